"""Kafka message bytes → valid RequestEvents + dead letters, never an exception.

A message value is one JSON event object or a JSON array of them (a batch
envelope). Each invalid element becomes a :class:`DeadLetter` with a reason code
and a detail that never echoes input values; valid elements of the same message
are kept.

>>> d = decode_message(b'[{"event_id": "x"}, 7]')
>>> [(x.reason, x.index) for x in d.dead]
[('invalid_event', 0), ('not_an_object', 1)]
>>> decode_message(b"\\xff").dead[0].reason
'invalid_utf8'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from app.events.request import RAW_TEXT_FIELDS, RequestEvent

__all__ = [
    "DEFAULT_MAX_BATCH_EVENTS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DeadLetter",
    "Decoded",
    "decode_message",
    "redact",
]

DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_BATCH_EVENTS = 50_000
_MAX_DETAIL_CHARS = 500
#: Fast path: a whole clean batch envelope validated by pydantic-core in one call.
_BATCH = TypeAdapter(list[RequestEvent])
_RAW_TEXT_KEY = re.compile(
    rb'"(?:' + b"|".join(re.escape(k.encode()) for k in sorted(RAW_TEXT_FIELDS)) + rb')"'
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be accepted.

    ``raw`` holds the original bytes (for a batch element, the element re-encoded),
    with raw-text fields redacted; ``index`` is the element's position in a batch.
    """

    reason: str
    detail: str
    raw: bytes
    index: int | None = None


@dataclass(slots=True)
class Decoded:
    """The outcome of decoding one message."""

    events: list[RequestEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    #: Valid events that carried raw-text fields (dropped, never stored).
    raw_text_dropped: int = 0


def redact(obj: Any) -> Any:
    """Replace the values of raw-text fields, at any depth, by a size marker."""
    if isinstance(obj, dict):
        return {
            k: (f"[redacted {len(str(v))} chars]" if k in RAW_TEXT_FIELDS else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def _has_raw_text(obj: dict[str, Any]) -> bool:
    return not RAW_TEXT_FIELDS.isdisjoint(obj.keys())


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "<event>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)[:_MAX_DETAIL_CHARS]


def _safe_raw(raw: bytes, parsed: Any = None) -> bytes:
    """Original bytes, unless they carry raw text: then a redacted re-encoding."""
    if parsed is not None and _contains_raw_text(parsed):
        return orjson.dumps(redact(parsed))
    return raw


def _contains_raw_text(obj: Any) -> bool:
    if isinstance(obj, dict):
        return _has_raw_text(obj) or any(_contains_raw_text(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_contains_raw_text(v) for v in obj)
    return False


def _validate_one(obj: Any, index: int | None, out: Decoded) -> None:
    if not isinstance(obj, dict):
        raw = orjson.dumps(redact(obj)) if index is not None else b""
        out.dead.append(
            DeadLetter(
                "not_an_object", f"expected a JSON object, got {type(obj).__name__}", raw, index
            )
        )
        return
    try:
        event = RequestEvent.model_validate(obj)
    except ValidationError as exc:
        out.dead.append(
            DeadLetter("invalid_event", _describe(exc), orjson.dumps(redact(obj)), index)
        )
        return
    if _has_raw_text(obj):
        out.raw_text_dropped += 1
    out.events.append(event)


def decode_message(
    raw: bytes | None,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
) -> Decoded:
    """Decode one message value (an event object or an array of them)."""
    out = Decoded()
    if raw is None or len(raw) == 0:
        out.dead.append(DeadLetter("empty_message", "message value is empty", b""))
        return out
    if len(raw) > max_message_bytes:
        out.dead.append(
            DeadLetter(
                "message_too_large", f"{len(raw)} bytes > limit of {max_message_bytes}", raw[:1024]
            )
        )
        return out
    if raw[:1] == b"[" and _RAW_TEXT_KEY.search(raw) is None:
        try:
            events = _BATCH.validate_json(raw)
        except ValidationError:
            pass  # some element is bad (or the JSON is): the per-element path says which
        else:
            if 0 < len(events) <= max_batch_events:
                out.events = events
                return out
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            out.dead.append(DeadLetter("invalid_utf8", "message is not valid UTF-8", raw))
            return out
        out.dead.append(DeadLetter("invalid_json", str(exc)[:_MAX_DETAIL_CHARS], raw))
        return out
    if isinstance(parsed, list):
        if not parsed:
            out.dead.append(DeadLetter("empty_batch", "batch envelope has no events", raw))
            return out
        if len(parsed) > max_batch_events:
            out.dead.append(
                DeadLetter(
                    "batch_too_large",
                    f"{len(parsed)} events > limit of {max_batch_events}",
                    _safe_raw(raw, parsed),
                )
            )
            return out
        for i, obj in enumerate(parsed):
            _validate_one(obj, i, out)
        return out
    if isinstance(parsed, dict):
        before = len(out.dead)
        _validate_one(parsed, None, out)
        if len(out.dead) > before:  # keep the original bytes for a single event
            dl = out.dead[-1]
            out.dead[-1] = DeadLetter(dl.reason, dl.detail, _safe_raw(raw, parsed), None)
        return out
    out.dead.append(
        DeadLetter(
            "not_an_object", f"expected a JSON object or array, got {type(parsed).__name__}", raw
        )
    )
    return out
