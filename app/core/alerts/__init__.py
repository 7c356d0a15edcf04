"""AlertEvent building: severity, reasons, actions for the rate-limiter, dedup with cooldown,
trust."""

from __future__ import annotations

from app.core.alerts.build import ACTION_FOR_SEVERITY, build_alert, severity_for
from app.core.alerts.dedup import Deduper
from app.core.alerts.trust import TRUST_HISTORY, TRUST_NONE, TRUST_ORG, with_trust

__all__ = [
    "ACTION_FOR_SEVERITY",
    "TRUST_HISTORY",
    "TRUST_NONE",
    "TRUST_ORG",
    "Deduper",
    "build_alert",
    "severity_for",
    "with_trust",
]
