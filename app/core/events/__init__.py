"""Event contract v1: request events in, alert events out, decoding with dead letters."""

from __future__ import annotations

from app.core.events.alert import AlertEvent, Reason
from app.core.events.decode import DeadLetter, Decoded, decode_message
from app.core.events.request import RequestEvent, RequestEventContract, validate_event

__all__ = [
    "AlertEvent",
    "DeadLetter",
    "Decoded",
    "Reason",
    "RequestEvent",
    "RequestEventContract",
    "decode_message",
    "validate_event",
]
