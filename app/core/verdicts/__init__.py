"""Analyst verdicts: what they say (``verdict``), which are in force (``book``), and the
indicators remembered from confirmed and critical campaigns (``memory``)."""

from __future__ import annotations

from app.core.verdicts.book import VerdictBook, suppressed
from app.core.verdicts.memory import IndicatorMemory
from app.core.verdicts.verdict import (
    INDICATOR_KINDS,
    SUBJECT_KINDS,
    WITHDRAWAL_HEADERS,
    SubjectKind,
    Verdict,
    VerdictKind,
    Withdrawal,
    decode_verdict,
    subject_key,
)

__all__ = [
    "INDICATOR_KINDS",
    "SUBJECT_KINDS",
    "WITHDRAWAL_HEADERS",
    "IndicatorMemory",
    "SubjectKind",
    "Verdict",
    "VerdictBook",
    "VerdictKind",
    "Withdrawal",
    "decode_verdict",
    "subject_key",
    "suppressed",
]
