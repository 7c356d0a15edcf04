"""Verdict v1, the book at event time, suppression, and indicator memory's decay and caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.events import AlertEvent
from app.core.events.schema import render, schema_documents
from app.core.verdicts import IndicatorMemory, Verdict, VerdictBook, decode_verdict, suppressed

SCHEMA = Path(__file__).parents[4] / "schemas" / "verdict.v1.json"


def verdict(**kw: object) -> Verdict:
    base: dict[str, object] = {
        "subject_kind": "org",
        "subject": "org-acme",
        "verdict": "benign",
        "reason": "eval harness, T-1",
        "analyst": "ana",
        "issued_ms": 1_000,
        "expires_ms": 5_000,
    }
    return Verdict.model_validate({**base, **kw})


def test_the_committed_schema_is_the_models() -> None:
    assert SCHEMA.read_bytes() == render(schema_documents()["verdict.v1.json"])
    doc = json.loads(SCHEMA.read_text())
    assert set(doc["required"]) == {
        "subject_kind", "subject", "verdict", "reason", "analyst", "issued_ms"
    }  # fmt: skip
    assert doc["additionalProperties"] is False


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "invalid verdict"),
        (json.dumps({**verdict().model_dump(), "verdict": "maybe"}).encode(), "verdict"),
        (json.dumps({**verdict().model_dump(), "reason": ""}).encode(), "reason"),
        (json.dumps({**verdict().model_dump(), "expires_ms": 10}).encode(), "expires_ms"),
        (json.dumps({**verdict().model_dump(), "prompt": "hi"}).encode(), "prompt"),
        (json.dumps({**verdict().model_dump(), "subject_kind": "ip"}).encode(), "subject_kind"),
    ],
)
def test_a_malformed_verdict_is_refused_with_the_reason(raw: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_verdict(raw)


def test_verdict_ids_derive_from_the_decision() -> None:
    assert verdict().verdict_id == verdict(reason="other words").verdict_id
    assert verdict().verdict_id != verdict(issued_ms=2_000).verdict_id


def test_the_book_answers_at_event_time_and_follows_tombstones() -> None:
    book = VerdictBook()
    v = verdict()
    assert book.apply_record(v.key.encode(), v.model_dump_json().encode())[0] == "put"
    assert book.allowed_account("a1", "org-acme", at_ms=999) is None
    assert book.allowed_account("a1", "org-acme", at_ms=1_000) == v
    assert book.allowed_account("a1", "org-acme", at_ms=5_000) is None  # expired
    assert book.allowed_account("a1", "org-other", at_ms=2_000) is None
    assert book.apply_record(b"account:zzz", v.model_dump_json().encode())[0] == "invalid"
    assert book.apply_record(v.key.encode(), None)[0] == "withdrawn"
    assert book.allowed_account("a1", "org-acme", at_ms=2_000) is None
    assert len(book) == 0 and not book.has("benign", "org")


def test_a_confirmed_verdict_allows_nothing() -> None:
    book = VerdictBook([verdict(verdict="confirmed")])
    assert book.allowed_account("a1", "org-acme", at_ms=2_000) is None
    assert book.confirmed("org", "org-acme", at_ms=2_000) is not None


def test_suppression_keeps_the_alert_and_says_why() -> None:
    alert = AlertEvent(
        alert_id="x", ts_ms=2_000, emitted_ms=0, entity_type="account", entity_id="a1",
        campaign_id="cmp-1", severity="critical", score=0.9, detectors=["d"], reasons=[],
        window_start_ms=0, window_end_ms=2_000, evidence={}, action="block",
        action_ttl_s=86_400,
    )  # fmt: skip
    out = suppressed(alert, verdict())
    assert (out.action, out.action_ttl_s, out.severity) == ("observe", 0, "critical")
    assert out.verdict_id == verdict().verdict_id and out.alert_id == alert.alert_id
    assert out.reasons[0].feature == "verdict" and out.reasons[0].value == 3.0  # block
    assert "ana" in out.reasons[0].detail and "org:org-acme" in out.reasons[0].detail


def test_memory_decays_and_is_capped() -> None:
    m = IndicatorMemory(ttl_ms=100, max_per_campaign=3, max_entries=4)
    assert m.remember("c1", ["k1", "k2", "k3", "k4"], at_ms=0) == 3
    assert [m.campaign_of(k, at_ms=50) for k in ("k1", "k3", "k4")] == ["c1", "c1", None]
    m.remember("c2", ["j1", "j2"], at_ms=60)  # 5 entries > 4: the soonest to expire goes
    assert len(m) == 4 and m.evicted == 1
    assert m.campaign_of("k1", at_ms=70) is None and m.campaign_of("j2", at_ms=70) == "c2"
    m.remember("c2", ["k2"], at_ms=70)  # held by c1 until it expires
    assert m.campaign_of("k2", at_ms=80) == "c1"
    assert m.expire(now_ms=100) == 2 and m.campaign_of("k2", at_ms=100) is None
    m.remember("c1", ["j1"], at_ms=150)  # still c2's (until 160)
    assert m.campaign_of("j1", at_ms=155) == "c2"
    m.remember("c1", ["j1"], at_ms=170)  # c2's ran out: another campaign may take it
    assert m.campaign_of("j1", at_ms=200) == "c1"


def test_a_full_memory_evicts_a_tenth_at_once() -> None:
    m = IndicatorMemory(ttl_ms=1_000, max_per_campaign=100, max_entries=20)
    m.remember("c", [f"k{i}" for i in range(20)], at_ms=0)
    m.remember("d", ["new"], at_ms=10)
    assert len(m) == 18 and m.evicted == 3 and m.campaign_of("new", at_ms=20) == "d"


def test_a_withdrawal_travels_as_headers_and_foreign_headers_never_raise() -> None:
    from app.core.verdicts import WITHDRAWAL_HEADERS, Withdrawal

    w = Withdrawal(analyst="bo", reason="harness retired, T-9")
    assert Withdrawal.from_headers(w.headers()) == w
    assert Withdrawal.from_headers(None) is None  # a tombstone from an older producer
    assert Withdrawal.from_headers([("other", b"x")]) is None
    odd = Withdrawal.from_headers(
        [(WITHDRAWAL_HEADERS[0], b"\xff" + b"a" * 300), (WITHDRAWAL_HEADERS[1], b"  ")]
    )
    assert odd is not None
    assert odd.analyst.startswith("\ufffd") and len(odd.analyst) == 128
    assert odd.reason == "(none given)"
    with pytest.raises(ValueError):
        Withdrawal(analyst="", reason="r")
