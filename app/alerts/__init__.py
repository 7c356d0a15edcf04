"""AlertEvent building: severity, reasons, actions for the rate-limiter, dedup with cooldown."""

from __future__ import annotations

from app.alerts.build import ACTION_FOR_SEVERITY, build_alert, severity_for
from app.alerts.dedup import Deduper

__all__ = ["ACTION_FOR_SEVERITY", "Deduper", "build_alert", "severity_for"]
