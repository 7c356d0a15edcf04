"""Verdict v1: an analyst's decision about one subject, keyed by that subject.

The ``hydrawatch.verdicts`` topic is compacted and keyed by :func:`subject_key`, so it
holds the newest verdict per subject; a tombstone (a record with no value) withdraws
it. A verdict is in force for events at or after ``issued_ms`` and before
``expires_ms`` (event time, so every worker applies it to the same events).

Subjects: a ``campaign`` (its ``campaign_id``), an ``account``, an ``org`` (its
``org_id``), or an indicator — ``payment`` (payment fingerprint), ``tls`` (``JA4|user
agent``, as the TLS/UA pivot spells it), ``template`` (prompt template hash) or
``subnet`` (``a.b.c.0/24`` or an IPv6 ``/48``).

>>> v = Verdict(subject_kind="org", subject="org-acme", verdict="benign",
...     reason="customer eval harness, ticket T-1", analyst="ana", issued_ms=1_000,
...     expires_ms=2_000)
>>> v.key, v.in_force(1_500), v.in_force(2_000)
('org:org-acme', True, False)
>>> w = Withdrawal(analyst="bo", reason="harness moved to a new org, T-2")
>>> Withdrawal.from_headers(w.headers()) == w
True
>>> try:
...     decode_verdict(b'{"subject_kind": "planet"}')
... except ValueError as exc:
...     print(str(exc)[:45])
invalid verdict: subject_kind: Input should b
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "INDICATOR_KINDS",
    "SUBJECT_KINDS",
    "WITHDRAWAL_HEADERS",
    "SubjectKind",
    "Verdict",
    "VerdictKind",
    "Withdrawal",
    "decode_verdict",
    "subject_key",
]

SubjectKind = Literal["campaign", "account", "org", "payment", "tls", "template", "subnet"]
VerdictKind = Literal["benign", "confirmed"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = (
    "campaign",
    "account",
    "org",
    "payment",
    "tls",
    "template",
    "subnet",
)
#: Subjects that are shared indicators (pivot kinds of the pivot stage).
INDICATOR_KINDS: frozenset[str] = frozenset({"payment", "tls", "template", "subnet"})


def subject_key(kind: str, subject: str) -> str:
    """The topic key of a subject; for an indicator, also the pivot stage's key.

    >>> subject_key("subnet", "203.0.113.0/24")
    'subnet:203.0.113.0/24'
    """
    return f"{kind}:{subject}"


class Verdict(BaseModel):
    """One analyst decision (schema v1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_kind: SubjectKind
    subject: str = Field(min_length=1, max_length=256)
    verdict: VerdictKind
    reason: str = Field(min_length=1, max_length=500, description="Why (a ticket, a finding)")
    analyst: str = Field(min_length=1, max_length=128)
    issued_ms: int = Field(ge=0, description="In force for events at or after this time")
    expires_ms: int | None = Field(
        None, description="In force before this time (None: never expires)"
    )
    schema_version: Literal[1] = 1

    @model_validator(mode="after")
    def _expiry_after_issue(self) -> Verdict:
        if self.expires_ms is not None and self.expires_ms <= self.issued_ms:
            raise ValueError("expires_ms must be after issued_ms")
        return self

    @property
    def key(self) -> str:
        return subject_key(self.subject_kind, self.subject)

    @property
    def verdict_id(self) -> str:
        """Derived from subject, decision and issue time: the same verdict, the same id."""
        raw = f"{self.key}|{self.verdict}|{self.issued_ms}"
        return "vd-" + hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()

    def in_force(self, at_ms: int) -> bool:
        return self.issued_ms <= at_ms and (self.expires_ms is None or at_ms < self.expires_ms)


def decode_verdict(raw: bytes | str) -> Verdict:
    """A verdict from its JSON; ``ValueError`` with the first problem otherwise."""
    try:
        return Verdict.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "value"
        raise ValueError(f"invalid verdict: {where}: {err['msg']}") from None


#: Record headers of a withdrawal (a tombstone has no value): who withdrew, and why.
WITHDRAWAL_HEADERS: tuple[str, str] = ("hydrawatch-analyst", "hydrawatch-reason")


class Withdrawal(BaseModel):
    """Who withdrew a verdict and why: carried as :data:`WITHDRAWAL_HEADERS` on the
    tombstone, so the audit of a withdrawal names its analyst as an issue does."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    analyst: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=500)

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (WITHDRAWAL_HEADERS[0], self.analyst.encode()),
            (WITHDRAWAL_HEADERS[1], self.reason.encode()),
        ]

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes | None]] | None) -> Withdrawal | None:
        """The withdrawal a tombstone's headers name; ``None`` when they name none (a
        tombstone from an older or foreign producer). Never raises: undecodable bytes
        are replaced, over-long values cut."""
        found: dict[str, str] = {}
        for name, raw in headers or ():
            if name in WITHDRAWAL_HEADERS and raw:
                found[name] = raw.decode(errors="replace").strip()
        analyst, reason = (found.get(h, "") for h in WITHDRAWAL_HEADERS)
        if not analyst and not reason:
            return None
        return cls(analyst=(analyst or "unknown")[:128], reason=(reason or "(none given)")[:500])
