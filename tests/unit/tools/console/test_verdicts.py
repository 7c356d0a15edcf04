"""The console's view of the verdicts topic: newest per subject, tombstones, states."""

from __future__ import annotations

import pytest

from app.core.verdicts import Verdict, Withdrawal
from app.tools.console.store import AlertStore
from app.tools.console.verdicts import (
    EXPIRIES,
    VerdictLog,
    build_verdict,
    parse_subject,
    status_of,
    verdict_status,
)

DAY = 86_400_000


def _v(
    subject: str = "acct-1", *, kind: str = "account", issued: int = 1_000, **kw: object
) -> Verdict:
    fields: dict[str, object] = {
        "subject_kind": kind,
        "subject": subject,
        "verdict": "benign",
        "reason": "eval harness, T-1",
        "analyst": "ana",
        "issued_ms": issued,
        "expires_ms": issued + DAY,
    }
    fields.update(kw)
    return Verdict.model_validate(fields)


def _raw(v: Verdict) -> tuple[bytes, bytes]:
    return v.key.encode(), v.model_dump_json().encode()


def test_the_newest_record_per_key_wins_and_a_tombstone_withdraws() -> None:
    log = VerdictLog()
    first, second = _v(), _v(issued=2_000, verdict="confirmed")
    other = _v("pay-1", kind="payment")
    for v in (first, other, second):
        log.apply_raw(*_raw(v), ts_ms=v.issued_ms)
    assert log.current == {"account:acct-1": second, "payment:pay-1": other}
    by = Withdrawal(analyst="bo", reason="T-9")
    log.apply_raw(b"payment:pay-1", None, ts_ms=3_000, headers=by.headers())
    log.apply_raw(b"org:never-had-one", None, ts_ms=None)
    assert log.current == {"account:acct-1": second}
    assert [(e.key, e.change) for e in log.history] == [
        ("account:acct-1", "issued"),
        ("payment:pay-1", "issued"),
        ("account:acct-1", "replaced"),
        ("payment:pay-1", "withdrawn"),
        ("org:never-had-one", "withdrawn"),
    ]
    assert log.history[2].previous == first and log.history[3].previous == other
    assert log.history[4].previous is None and log.records == 5
    assert log.history[3].withdrawal == by and log.history[4].withdrawal is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"account:acct-1", b"{not json"),
        (b"account:acct-1", b'{"subject_kind": "planet"}'),
        (b"account:someone-else", _raw(_v())[1]),  # a key that is not the subject
        (None, _raw(_v())[1]),
        (None, None),  # a tombstone without a key
    ],
)
def test_a_record_that_is_not_a_verdict_changes_nothing_and_is_counted(
    key: bytes | None, value: bytes | None
) -> None:
    s = AlertStore()
    assert s.add_verdict_raw(*_raw(_v()), ts_ms=5)
    before = s.snapshot()
    assert not s.add_verdict_raw(key, value, ts_ms=6)
    snap = s.snapshot()
    assert snap.verdicts == before.verdicts and snap.verdict_history == before.verdict_history
    assert (snap.verdict_records, snap.verdicts_invalid) == (1, 1)


def test_the_store_snapshot_carries_the_verdicts() -> None:
    s = AlertStore()
    v = _v()
    s.add_verdict(v.key, v, ts_ms=7)
    snap = s.snapshot()
    assert snap.verdicts == {v.key: v} and snap.verdict_records == 1
    assert snap.verdict_history[0].ts_ms == 7
    with pytest.raises(ValueError, match="subject"):
        s.add_verdict("account:other", v)
    s.add_verdict(v.key, None)
    assert s.snapshot().verdicts == {} and s.snapshot() is not snap


def test_states_at_the_console_clock() -> None:
    v = _v(issued=1_000, expires_ms=2_000)
    assert [status_of(v, now_ms=t).state for t in (999, 1_000, 1_999, 2_000)] == [
        "pending",
        "in force",
        "in force",
        "expired",
    ]
    forever = _v(issued=1_000, expires_ms=None)
    assert status_of(forever, now_ms=10**13).in_force
    assert verdict_status({v.key: v}, v.key, now_ms=1_500) == status_of(v, now_ms=1_500)
    assert verdict_status({v.key: v}, "account:nobody", now_ms=1_500) is None


def test_build_verdict_from_a_form() -> None:
    v = build_verdict(
        kind="payment",
        subject="pay-9",
        decision="confirmed",
        reason="  operator card, T-12 ",
        expires="30d",
        analyst=" ana ",
        now_ms=10_000,
    )
    assert (v.key, v.verdict, v.reason, v.analyst) == (
        "payment:pay-9",
        "confirmed",
        "operator card, T-12",
        "ana",
    )
    assert (v.issued_ms, v.expires_ms) == (10_000, 10_000 + 30 * DAY)
    ok = {
        "kind": "org",
        "subject": "o",
        "decision": "benign",
        "reason": "r",
        "expires": "none",
        "analyst": "a",
        "now_ms": 1,
    }
    assert build_verdict(**ok).expires_ms is None  # type: ignore[arg-type]
    for bad, match in [
        ({"decision": "maybe"}, "benign or confirmed"),
        ({"reason": "   "}, "reason is required"),
        ({"reason": "x" * 501}, "longer than 500"),
        ({"analyst": ""}, "analyst"),
        ({"expires": "forever"}, "expiry"),
        ({"subject": "x" * 300}, "subject"),
    ]:
        with pytest.raises(ValueError, match=match):
            build_verdict(**{**ok, **bad})  # type: ignore[arg-type]
    assert set(EXPIRIES) == {"1d", "7d", "30d", "none"}


def test_parse_subject() -> None:
    assert parse_subject("subnet:203.0.113.0/24") == ("subnet", "203.0.113.0/24")
    assert parse_subject("tls:t13d|ua:2") == ("tls", "t13d|ua:2")
    for bad in ("", "acct-1", "planet:mars", "account:", "account:  "):
        with pytest.raises(ValueError, match="KIND:VALUE"):
            parse_subject(bad)
