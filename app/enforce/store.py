"""The enforcement list a rate-limiter reads: one row per entity, the strongest live action.

Semantics of the alert contract (``docs/alerts.md``):

- ``action`` ``observe`` is for humans: it never enters the list;
- ``verify`` < ``throttle`` < ``block``: a weaker action never replaces a stronger one
  that is still live; a stronger one replaces it at once;
- an entry expires ``action_ttl_s`` after the alert's ``emitted_ms`` (so replaying an old
  alert never extends a block);
- ``alert_id`` is the idempotency key: a re-delivered alert changes nothing;
- an alert with a ``verdict_id`` (a benign verdict allows its entity) releases the
  entity's entry at once;
- benign verdicts (the verdicts topic) hide the entries they cover from :meth:`active`
  while in force — an allowed account, and every entry of an allowed campaign; an
  allowed org's accounts are released by the detector's ``verdict_id`` alerts (the
  list does not know accounts' orgs). Every verdict change is audited: who, when, what
  it decided, and which live entries it released.

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
from app.core.verdicts import Verdict, Withdrawal

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
            CREATE TABLE IF NOT EXISTS verdicts (
                key TEXT PRIMARY KEY, verdict_id TEXT NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS audit (
                at_s REAL NOT NULL, key TEXT NOT NULL, change TEXT NOT NULL,
                verdict_id TEXT, verdict TEXT, analyst TEXT, reason TEXT,
                issued_ms INTEGER, expires_ms INTEGER, released TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS dead (topic TEXT, part INTEGER, off INTEGER,
                PRIMARY KEY (topic, part, off));
            """
        )
        self.db.commit()

    def apply(self, alert: AlertEvent, *, commit: bool = True) -> bool:
        """Apply one alert; True if it changed the list (False: duplicate/observe/weaker)."""
        expires = alert.emitted_ms / 1000.0 + alert.action_ttl_s
        cur = self.db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?)",
            (alert.alert_id, max(expires, alert.emitted_ms / 1000.0 + 86_400)),
        )
        if cur.rowcount and alert.verdict_id is not None:  # allowed by a benign verdict
            gone = self.db.execute(
                "DELETE FROM entries WHERE entity_type=? AND entity_id=?",
                (alert.entity_type, alert.entity_id),
            ).rowcount
            if commit:
                self.db.commit()
            return gone > 0
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
        """Live entries, minus those a benign verdict in force allows."""
        rows = self.db.execute(
            "SELECT entity_type, entity_id, action, severity, expires_at_s, alert_id, "
            "campaign_id FROM entries WHERE expires_at_s > ? ORDER BY entity_type, entity_id",
            (now_s,),
        ).fetchall()
        allowed = self._allowed_keys(now_s)
        return [Entry(*r) for r in rows if not self._covered(r[0], r[1], r[6], allowed)]

    @staticmethod
    def _covered(etype: str, eid: str, campaign: str | None, allowed: set[str]) -> bool:
        if not allowed:
            return False
        if etype == "account" and f"account:{eid}" in allowed:
            return True
        if etype == "campaign" and f"campaign:{eid}" in allowed:
            return True
        return campaign is not None and f"campaign:{campaign}" in allowed

    def _allowed_keys(self, now_s: float) -> set[str]:
        return {v.key for v in self.verdicts(now_s=now_s) if v.verdict == "benign"}

    # ---- verdicts ----------------------------------------------------------------------
    def verdicts(self, *, now_s: float) -> list[Verdict]:
        """Verdicts in force now."""
        now_ms = int(now_s * 1000)
        out = []
        for (body,) in self.db.execute("SELECT body FROM verdicts ORDER BY key"):
            v = Verdict.model_validate_json(body)
            if v.in_force(now_ms):
                out.append(v)
        return out

    def apply_verdict(self, v: Verdict, *, now_s: float) -> list[str]:
        """Store a verdict (a re-read one changes nothing); the entries it releases."""
        row = self.db.execute("SELECT verdict_id FROM verdicts WHERE key=?", (v.key,)).fetchone()
        if row is not None and row[0] == v.verdict_id:
            return []
        before = {(e.entity_type, e.entity_id) for e in self.active(now_s=now_s)}
        self.db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?)",
            (v.key, v.verdict_id, v.model_dump_json()),
        )
        after = {(e.entity_type, e.entity_id) for e in self.active(now_s=now_s)}
        released = sorted(f"{t}:{i}" for t, i in before - after)
        self._audit(now_s, v.key, "replaced" if row else "issued", v, released)
        self.db.commit()
        return released

    def withdraw_verdict(self, key: str, *, now_s: float, by: Withdrawal | None = None) -> bool:
        """Drop the subject's verdict; the audit names ``by`` (the tombstone's headers),
        or the withdrawn verdict's own analyst and reason when the tombstone named none."""
        row = self.db.execute("SELECT body FROM verdicts WHERE key=?", (key,)).fetchone()
        if row is None:
            return False
        self.db.execute("DELETE FROM verdicts WHERE key=?", (key,))
        self._audit(now_s, key, "withdrawn", Verdict.model_validate_json(row[0]), [], by=by)
        self.db.commit()
        return True

    def _audit(
        self,
        now_s: float,
        key: str,
        change: str,
        v: Verdict,
        released: list[str],
        *,
        by: Withdrawal | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now_s,
                key,
                change,
                v.verdict_id,
                v.verdict,
                v.analyst if by is None else by.analyst,
                v.reason if by is None else by.reason,
                v.issued_ms,
                v.expires_ms,
                ",".join(released),
            ),
        )

    def audit(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """The newest verdict changes first."""
        cols = (
            "at_s",
            "key",
            "change",
            "verdict_id",
            "verdict",
            "analyst",
            "reason",
            "issued_ms",
            "expires_ms",
            "released",
        )
        rows = self.db.execute(
            "SELECT * FROM audit ORDER BY at_s DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def dead_lettered(self, topic: str, partition: int, offset: int) -> bool:
        """Mark a record dead-lettered; False if it already was (a re-read)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO dead VALUES (?, ?, ?)", (topic, partition, offset)
        )
        self.db.commit()
        return cur.rowcount > 0

    def expire(self, *, now_s: float) -> int:
        """Delete expired entries and dedupe memory; returns entries removed."""
        n = self.db.execute("DELETE FROM entries WHERE expires_at_s <= ?", (now_s,)).rowcount
        self.db.execute("DELETE FROM seen WHERE expires_at_s <= ?", (now_s - 86_400,))
        self.db.commit()
        return n

    def close(self) -> None:
        self.db.close()
