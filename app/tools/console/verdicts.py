"""Verdicts as the console reads and shows them: the compacted topic's view plus its log.

The verdicts topic is compacted and keyed by subject (``app.core.verdicts``): the newest
record of a key is its verdict, a tombstone withdraws it. A :class:`VerdictLog` applies
the records in the order they were read and keeps, besides the current verdict per
subject, every record it read (bounded): the audit the ``/verdicts`` page shows. The
state of a verdict (in force, expired, not yet in force) is judged at the console's
wall clock: a verdict acts on events from its issue time on (``docs/runbooks/verdicts.md``).

>>> log = VerdictLog()
>>> v = build_verdict(kind="account", subject="acct-1", decision="benign",
...     reason="eval harness, T-1", expires="1d", analyst="ana", now_ms=1_000)
>>> log.apply_raw(b"account:acct-1", v.model_dump_json().encode(), ts_ms=1_000)
>>> status_of(log.current["account:acct-1"], now_ms=2_000).state
'in force'
>>> log.apply_raw(b"account:acct-1", None, ts_ms=3_000)
>>> dict(log.current), [e.change for e in log.history]
({}, ['issued', 'withdrawn'])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import ValidationError

from app.core.verdicts import (
    SUBJECT_KINDS,
    SubjectKind,
    Verdict,
    VerdictKind,
    Withdrawal,
    decode_verdict,
)

__all__ = [
    "DEFAULT_EXPIRY",
    "EXPIRIES",
    "VerdictEntry",
    "VerdictLog",
    "VerdictState",
    "VerdictStatus",
    "build_verdict",
    "parse_subject",
    "status_of",
    "verdict_status",
]

_DAY_MS = 86_400_000
#: the expiries the forms offer (``none``: in force until withdrawn)
EXPIRIES: Mapping[str, int | None] = {
    "1d": _DAY_MS,
    "7d": 7 * _DAY_MS,
    "30d": 30 * _DAY_MS,
    "none": None,
}
#: the CLI's default too
DEFAULT_EXPIRY = "7d"
_MAX_REASON = 500
_MAX_ANALYST = 128

VerdictState = Literal["in force", "expired", "pending"]
Change = Literal["issued", "replaced", "withdrawn"]


@dataclass(frozen=True, slots=True)
class VerdictEntry:
    """One record of the verdicts topic, as it was read."""

    key: str
    #: None: a tombstone
    verdict: Verdict | None
    #: what the record ended: the subject's previous verdict (None: it had none)
    previous: Verdict | None
    #: the record's timestamp (the producer's clock), when the broker gave one
    ts_ms: int | None
    #: a tombstone's headers: who withdrew the verdict, and why (None: not named)
    withdrawal: Withdrawal | None = None

    @property
    def change(self) -> Change:
        if self.verdict is None:
            return "withdrawn"
        return "issued" if self.previous is None else "replaced"


class VerdictLog:
    """The newest verdict per subject and the records read; not thread-safe (the
    store holds its lock around it)."""

    def __init__(self, *, max_history: int = 10_000) -> None:
        if max_history < 1:
            raise ValueError("max_history must be >= 1")
        self.current: dict[str, Verdict] = {}
        self.history: deque[VerdictEntry] = deque(maxlen=max_history)
        #: records applied (tombstones included)
        self.records = 0

    def apply(
        self,
        key: str,
        verdict: Verdict | None,
        *,
        ts_ms: int | None = None,
        withdrawal: Withdrawal | None = None,
    ) -> None:
        """A verdict (it replaces the subject's) or a tombstone (``None``: withdrawn, by
        ``withdrawal`` when its headers named who)."""
        if verdict is not None and verdict.key != key:
            raise ValueError(f"record key {key[:80]!r} is not the verdict's subject")
        previous = self.current.pop(key, None) if verdict is None else self.current.get(key)
        if verdict is not None:
            self.current[key] = verdict
        by = withdrawal if verdict is None else None
        self.history.append(VerdictEntry(key, verdict, previous, ts_ms, by))
        self.records += 1

    def apply_raw(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        ts_ms: int | None,
        headers: Iterable[tuple[str, bytes | None]] | None = None,
    ) -> None:
        """One record as consumed; ``ValueError`` (nothing changed) when it is not a
        verdict v1 keyed by its subject, or a tombstone with a key."""
        if not key:
            raise ValueError("a verdict record without a key")
        text = key.decode(errors="replace")
        if value is None:
            self.apply(text, None, ts_ms=ts_ms, withdrawal=Withdrawal.from_headers(headers))
        else:
            self.apply(text, decode_verdict(value), ts_ms=ts_ms)


@dataclass(frozen=True, slots=True)
class VerdictStatus:
    verdict: Verdict
    state: VerdictState

    @property
    def in_force(self) -> bool:
        return self.state == "in force"


def status_of(v: Verdict, *, now_ms: int) -> VerdictStatus:
    """``pending``: issued after now (another clock ran ahead of this one).

    >>> v = Verdict(subject_kind="org", subject="o", verdict="benign", reason="r",
    ...     analyst="a", issued_ms=100, expires_ms=200)
    >>> [status_of(v, now_ms=t).state for t in (99, 100, 200)]
    ['pending', 'in force', 'expired']
    """
    if v.in_force(now_ms):
        return VerdictStatus(v, "in force")
    return VerdictStatus(v, "pending" if now_ms < v.issued_ms else "expired")


def verdict_status(
    verdicts: Mapping[str, Verdict], key: str, *, now_ms: int
) -> VerdictStatus | None:
    """The subject's current verdict and its state; None when it has none."""
    v = verdicts.get(key)
    return None if v is None else status_of(v, now_ms=now_ms)


def parse_subject(text: str) -> tuple[SubjectKind, str]:
    """``KIND:VALUE`` as ``hydrawatch verdict`` takes it; ``ValueError`` for people.

    >>> parse_subject(" tls:t13d|sdk/1.2 ")
    ('tls', 't13d|sdk/1.2')
    >>> try:
    ...     parse_subject("planet:mars")
    ... except ValueError as exc:
    ...     print(str(exc)[:60])
    subject 'planet:mars': give KIND:VALUE with KIND one of camp
    """
    kind, sep, value = text.strip().partition(":")
    if not sep or kind not in SUBJECT_KINDS or not value.strip():
        raise ValueError(
            f"subject {text.strip()[:80]!r}: give KIND:VALUE with KIND one of "
            + ", ".join(SUBJECT_KINDS)
        )
    return kind, value.strip()  # type: ignore[return-value]


def build_verdict(
    *,
    kind: SubjectKind,
    subject: str,
    decision: str,
    reason: str,
    expires: str,
    analyst: str,
    now_ms: int,
) -> Verdict:
    """The verdict a form asks for, issued now; ``ValueError`` naming the first problem
    in words for the page."""
    reason, analyst = reason.strip(), analyst.strip()
    if decision not in get_args(VerdictKind):
        raise ValueError("choose benign or confirmed")
    if not reason:
        raise ValueError("a reason is required (a ticket, a finding): it is audited")
    if len(reason) > _MAX_REASON:
        raise ValueError(f"the reason is longer than {_MAX_REASON} characters")
    if not analyst:
        raise ValueError("the analyst's name is required: it is audited")
    if len(analyst) > _MAX_ANALYST:
        raise ValueError(f"the analyst's name is longer than {_MAX_ANALYST} characters")
    if expires not in EXPIRIES:
        raise ValueError("choose an expiry: " + ", ".join(EXPIRIES))
    ttl = EXPIRIES[expires]
    try:
        return Verdict(
            subject_kind=kind,
            subject=subject,
            verdict=decision,  # type: ignore[arg-type]
            reason=reason,
            analyst=analyst,
            issued_ms=now_ms,
            expires_ms=None if ttl is None else now_ms + ttl,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "verdict"
        raise ValueError(f"{where}: {err['msg']}") from None
