"""Per-entity alert deduplication: one alert per cooldown, unless severity escalates.

>>> d = Deduper(cooldown_ms=1_000)
>>> d.admit(("account", "a"), "medium", ts_ms=0), d.admit(("account", "a"), "medium", ts_ms=500)
(True, False)
>>> d.admit(("account", "a"), "high", ts_ms=600), d.admit(("account", "a"), "low", ts_ms=1_700)
(True, True)
"""

from __future__ import annotations

from collections.abc import Hashable

from app.core.events.alert import SEVERITIES, Severity

__all__ = ["Deduper"]

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class Deduper:
    """Remembers the last alert per entity for ``cooldown_ms`` of event time."""

    def __init__(self, *, cooldown_ms: int) -> None:
        self.cooldown_ms = cooldown_ms
        self._last: dict[Hashable, tuple[int, int]] = {}
        self.suppressed = 0

    def __len__(self) -> int:
        return len(self._last)

    def admit(self, key: Hashable, severity: Severity, *, ts_ms: int) -> bool:
        rank = _RANK[severity]
        last = self._last.get(key)
        if last is not None:
            last_ts, last_rank = last
            if ts_ms - last_ts < self.cooldown_ms and rank <= last_rank:
                self.suppressed += 1
                return False
        self._last[key] = (ts_ms, rank)
        return True

    def expire(self, *, now_ms: int) -> int:
        """Forget entities whose cooldown has passed; returns how many."""
        old = [k for k, (ts, _) in self._last.items() if now_ms - ts >= self.cooldown_ms]
        for k in old:
            del self._last[k]
        return len(old)
