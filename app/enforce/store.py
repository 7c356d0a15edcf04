"""The enforcement list a rate-limiter reads: one row per entity, the strongest live action.

Semantics of the alert contract (``docs/alerts.md``):

- ``action`` ``observe`` is for humans: it never enters the list;
- ``verify`` < ``throttle`` < ``block``: a weaker action never replaces a stronger one
  that is still live; a stronger one replaces it at once;
- an entry expires ``action_ttl_s`` after the alert's ``emitted_ms`` (so replaying an old
  alert never extends a block);
- ``alert_id`` is the idempotency key: a re-delivered alert changes nothing.

>>> from app.core.events import AlertEvent
>>> s = EnforcementStore(":memory:")
>>> a = AlertEvent(alert_id="x1", ts_ms=0, emitted_ms=1_000_000, entity_type="account",
...     entity_id="acct-7", severity="high", score=0.9, detectors=["d"], reasons=[],
...     window_start_ms=0, window_end_ms=1, evidence={}, action="throttle", action_ttl_s=600)
>>> s.apply(a), s.apply(a)
(True, False)
>>> [(e.entity_id, e.action) for e in s.active(now_s=1_500)]
[('acct-7', 'throttle')]
>>> s.active(now_s=1_000 + 601)
[]
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from app.core.events import AlertEvent

__all__ = ["EnforcementStore", "Entry"]

_RANK = {"verify": 1, "throttle": 2, "block": 3}


@dataclass(frozen=True, slots=True)
class Entry:
    entity_type: str
    entity_id: str
    action: str
    severity: str
    expires_at_s: float
    alert_id: str
    campaign_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EnforcementStore:
    """SQLite-backed; ``path`` may be ``:memory:``."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS entries (
                entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,
                action TEXT NOT NULL, severity TEXT NOT NULL,
                expires_at_s REAL NOT NULL, alert_id TEXT NOT NULL, campaign_id TEXT,
                PRIMARY KEY (entity_type, entity_id));
            CREATE TABLE IF NOT EXISTS seen (alert_id TEXT PRIMARY KEY, expires_at_s REAL);
            """
        )
        self.db.commit()

    def apply(self, alert: AlertEvent, *, commit: bool = True) -> bool:
        """Apply one alert; True if it changed the list (False: duplicate/observe/weaker)."""
        expires = alert.emitted_ms / 1000.0 + alert.action_ttl_s
        cur = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (alert.alert_id, expires))
        if cur.rowcount == 0 or alert.action == "observe" or alert.action_ttl_s == 0:
            if commit:
                self.db.commit()
            return False
        row = self.db.execute(
            "SELECT action, expires_at_s FROM entries WHERE entity_type=? AND entity_id=?",
            (alert.entity_type, alert.entity_id),
        ).fetchone()
        changed = True
        if row is not None:
            old_rank, new_rank = _RANK[row[0]], _RANK[alert.action]
            if new_rank < old_rank and row[1] > alert.emitted_ms / 1000.0:
                changed = False  # a weaker action never shortens a live stronger one
            elif new_rank == old_rank and row[1] >= expires:
                changed = False
        if changed:
            self.db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    alert.entity_type,
                    alert.entity_id,
                    alert.action,
                    alert.severity,
                    expires,
                    alert.alert_id,
                    alert.campaign_id,
                ),
            )
        if commit:
            self.db.commit()
        return changed

    def commit(self) -> None:
        self.db.commit()

    def active(self, *, now_s: float) -> list[Entry]:
        rows = self.db.execute(
            "SELECT entity_type, entity_id, action, severity, expires_at_s, alert_id, "
            "campaign_id FROM entries WHERE expires_at_s > ? ORDER BY entity_type, entity_id",
            (now_s,),
        ).fetchall()
        return [Entry(*r) for r in rows]

    def expire(self, *, now_s: float) -> int:
        """Delete expired entries and dedupe memory; returns entries removed."""
        n = self.db.execute("DELETE FROM entries WHERE expires_at_s <= ?", (now_s,)).rowcount
        self.db.execute("DELETE FROM seen WHERE expires_at_s <= ?", (now_s - 86_400,))
        self.db.commit()
        return n

    def close(self) -> None:
        self.db.close()
