"""Online River scorers on window summaries, with adaptive thresholds."""

from __future__ import annotations

from app.core.detectors.account_window import AccountWindowDetector, Verdict

__all__ = ["AccountWindowDetector", "Verdict"]
