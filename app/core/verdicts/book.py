"""The verdicts in force, and what a benign one does to an alert.

A :class:`VerdictBook` holds the newest verdict per subject (the compacted topic's
view). Stages ask it at *event time*: the account stage at a request's ``ts_ms``, the
pivot and campaign stages at their tick. So a verdict issued at ``T`` acts on exactly
the events and ticks from ``T`` on, on every worker — provided it reached the worker
before the worker's event clock passed ``T`` (live, event time trails the wall clock
the analyst issued it by; a verdict that arrives later acts from the next tick, and the
runtime counts it as late).

A benign verdict never drops an alert: :func:`suppressed` turns it into an ``observe``
alert that names the verdict (``verdict_id``), so analysts still see it and the
rate-limiter releases any live action on the entity (``docs/alerts.md``).

>>> from app.core.verdicts.verdict import Verdict
>>> book = VerdictBook()
>>> book.put(Verdict(subject_kind="account", subject="acct-1", verdict="benign",
...     reason="known customer", analyst="ana", issued_ms=100))
>>> book.benign("account", "acct-1", at_ms=99) is None
True
>>> book.benign("account", "acct-1", at_ms=100).analyst
'ana'
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from app.core.events.alert import ACTIONS, AlertEvent, Reason
from app.core.verdicts.verdict import Verdict, VerdictKind, decode_verdict, subject_key

__all__ = ["VerdictBook", "suppressed"]


class VerdictBook:
    """Newest verdict per subject key; lookups at an event time."""

    def __init__(self, verdicts: Iterable[Verdict] = ()) -> None:
        self._by_key: dict[str, Verdict] = {}
        #: bumped on every change (stages re-check what they cached)
        self.version = 0
        self._kinds: dict[str, int] = {}
        #: (version, the times any verdict starts or stops being in force, sorted)
        self._edges: tuple[int, list[int]] = (-1, [])
        for v in verdicts:
            self.put(v)

    def __len__(self) -> int:
        return len(self._by_key)

    def put(self, v: Verdict) -> None:
        old = self._by_key.get(v.key)
        if old is not None:
            self._count(old, -1)
        self._by_key[v.key] = v
        self._count(v, 1)
        self.version += 1

    def withdraw(self, key: str) -> Verdict | None:
        """A tombstone: the subject has no verdict any more."""
        old = self._by_key.pop(key, None)
        if old is not None:
            self._count(old, -1)
            self.version += 1
        return old

    def apply_record(
        self, key: bytes | None, value: bytes | None
    ) -> tuple[Literal["put", "withdrawn", "invalid"], Verdict | str]:
        """One record of the verdicts topic: a verdict (put), a tombstone (withdrawn),
        or something else (invalid, with the reason; the book is unchanged).

        >>> b = VerdictBook()
        >>> b.apply_record(b"org:o", b"{}")[0], b.apply_record(None, None)
        ('invalid', ('invalid', 'a tombstone without a key'))
        """
        if value is None:
            if not key:
                return "invalid", "a tombstone without a key"
            old = self.withdraw(key.decode(errors="replace"))
            return "withdrawn", old if old is not None else key.decode(errors="replace")
        try:
            v = decode_verdict(value)
        except ValueError as exc:
            return "invalid", str(exc)
        if key is not None and key.decode(errors="replace") != v.key:
            return "invalid", f"record key {key[:80]!r} is not the verdict's subject {v.key!r}"
        self.put(v)
        return "put", v

    def _count(self, v: Verdict, d: int) -> None:
        k = f"{v.verdict}:{v.subject_kind}"
        self._kinds[k] = self._kinds.get(k, 0) + d

    def has(self, verdict: VerdictKind, kind: str) -> bool:
        """Any verdict of this decision and subject kind (a fast skip when none)."""
        return self._kinds.get(f"{verdict}:{kind}", 0) > 0

    def get(self, key: str, *, at_ms: int) -> Verdict | None:
        v = self._by_key.get(key)
        return v if v is not None and v.in_force(at_ms) else None

    def benign(self, kind: str, subject: str | None, *, at_ms: int) -> Verdict | None:
        if subject is None or not self.has("benign", kind):
            return None
        v = self.get(subject_key(kind, subject), at_ms=at_ms)
        return v if v is not None and v.verdict == "benign" else None

    def confirmed(self, kind: str, subject: str, *, at_ms: int) -> Verdict | None:
        if not self.has("confirmed", kind):
            return None
        v = self.get(subject_key(kind, subject), at_ms=at_ms)
        return v if v is not None and v.verdict == "confirmed" else None

    def allowed_account(self, account: str, org: str | None, *, at_ms: int) -> Verdict | None:
        """The benign verdict covering this account (its own, else its org's)."""
        return self.benign("account", account, at_ms=at_ms) or self.benign("org", org, at_ms=at_ms)

    def changes_in(self, after_ms: int, until_ms: int) -> bool:
        """Does any verdict start or stop being in force in ``(after_ms, until_ms]``?
        (With :attr:`version`, what a stage needs to know its cached lookups still hold.)

        >>> from app.core.verdicts.verdict import Verdict
        >>> b = VerdictBook([Verdict(subject_kind="org", subject="o", verdict="benign",
        ...     reason="r", analyst="a", issued_ms=100, expires_ms=500)])
        >>> [b.changes_in(a, z) for a, z in [(0, 99), (99, 100), (100, 499), (499, 500)]]
        [False, True, False, True]
        """
        version, edges = self._edges
        if version != self.version:
            times = {v.issued_ms for v in self._by_key.values()}
            times |= {v.expires_ms for v in self._by_key.values() if v.expires_ms is not None}
            edges = sorted(times)
            self._edges = (self.version, edges)
        i = bisect.bisect_right(edges, after_ms)
        return i < len(edges) and edges[i] <= until_ms

    def all(self) -> list[Verdict]:
        return [self._by_key[k] for k in sorted(self._by_key)]


def suppressed(alert: AlertEvent, v: Verdict) -> AlertEvent:
    """``alert`` as ``observe``, naming the benign verdict that allows its entity.

    The ``verdict`` reason's value is the rank of the action it would have had
    (``ACTIONS``), so the suppression can be counted by action.
    """
    until = (
        "no expiry"
        if v.expires_ms is None
        else "until "
        + datetime.fromtimestamp(v.expires_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    )
    reason = Reason(
        feature="verdict",
        value=float(ACTIONS.index(alert.action)),
        detail=f"benign verdict on {v.key} by {v.analyst} ({until}): {v.reason}; "
        f"action {alert.action} → observe",
    )
    return alert.model_copy(
        update={
            "action": "observe",
            "action_ttl_s": 0,
            "verdict_id": v.verdict_id,
            "reasons": [reason, *alert.reasons],
        }
    )
