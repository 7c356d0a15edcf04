from __future__ import annotations

from pathlib import Path

from app.core.events import AlertEvent
from app.core.verdicts import Verdict, Withdrawal
from app.enforce import EnforcementStore
from app.enforce.consumer import write_json


def alert(
    alert_id: str,
    action: str,
    *,
    emitted_s: float = 1_000.0,
    ttl_s: int = 600,
    entity: str = "acct-1",
) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        ts_ms=0,
        emitted_ms=int(emitted_s * 1000),
        entity_type="account",
        entity_id=entity,
        campaign_id="cmp-1",
        severity={"observe": "low", "verify": "medium", "throttle": "high", "block": "critical"}[
            action
        ],  # type: ignore[arg-type]
        score=0.9,
        detectors=["d"],
        reasons=[],
        window_start_ms=0,
        window_end_ms=1,
        evidence={},
        action=action,  # type: ignore[arg-type]
        action_ttl_s=ttl_s if action != "observe" else 0,
    )


def test_observe_never_enforced_and_duplicates_are_no_ops() -> None:
    s = EnforcementStore(":memory:")
    assert not s.apply(alert("o", "observe"))
    assert s.apply(alert("v", "verify"))
    assert not s.apply(alert("v", "verify"))
    assert [e.action for e in s.active(now_s=1_001)] == ["verify"]


def test_stronger_action_wins_weaker_never_shortens_it() -> None:
    s = EnforcementStore(":memory:")
    assert s.apply(alert("b", "block", ttl_s=3_600))
    assert not s.apply(alert("t", "throttle", emitted_s=1_500))
    (e,) = s.active(now_s=2_000)
    assert (e.action, e.expires_at_s, e.alert_id) == ("block", 4_600.0, "b")
    # once the block has expired, a new throttle applies
    assert s.apply(alert("t2", "throttle", emitted_s=5_000))
    assert [x.action for x in s.active(now_s=5_001)] == ["throttle"]


def test_ttl_counts_from_emission_so_replays_never_extend() -> None:
    s = EnforcementStore(":memory:")
    s.apply(alert("a", "throttle", emitted_s=1_000, ttl_s=600))
    assert s.active(now_s=1_599) and not s.active(now_s=1_600)
    assert s.expire(now_s=1_600) == 1


def test_state_survives_a_restart_and_json_export(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    s = EnforcementStore(db)
    s.apply(alert("a", "block", ttl_s=86_400, entity="acct-9"))
    s.close()
    s2 = EnforcementStore(db)
    assert not s2.apply(alert("a", "block", ttl_s=86_400, entity="acct-9"))  # remembered
    out = tmp_path / "list.json"
    write_json(s2, out, now_s=2_000)
    import json

    doc = json.loads(out.read_text())
    assert [e["entity_id"] for e in doc["entries"]] == ["acct-9"]


def _verdict(
    kind: str, subject: str, *, issued_s: float = 1_000.0, verdict: str = "benign"
) -> Verdict:
    return Verdict(
        subject_kind=kind,  # type: ignore[arg-type]
        subject=subject,
        verdict=verdict,  # type: ignore[arg-type]
        reason="ticket T-9",
        analyst="ana",
        issued_ms=int(issued_s * 1000),
        expires_ms=int((issued_s + 3_600) * 1000),
    )


def test_a_verdict_id_alert_releases_the_entity_at_once() -> None:
    s = EnforcementStore(":memory:")
    s.apply(alert("a1", "block", ttl_s=86_400))
    release = alert("a2", "observe", emitted_s=1_100).model_copy(update={"verdict_id": "vd-1"})
    assert s.apply(release) is True
    assert s.active(now_s=1_200) == []
    assert s.apply(release) is False  # a re-delivery changes nothing


def test_benign_verdicts_hide_what_they_cover_and_are_audited(tmp_path: Path) -> None:
    s = EnforcementStore(str(tmp_path / "e.db"))
    s.apply(alert("a1", "block", ttl_s=86_400))
    s.apply(alert("a2", "throttle", ttl_s=86_400, entity="acct-2"))
    released = s.apply_verdict(_verdict("account", "acct-1"), now_s=1_200)
    assert released == ["account:acct-1"]
    assert [e.entity_id for e in s.active(now_s=1_300)] == ["acct-2"]
    assert s.apply_verdict(_verdict("account", "acct-1"), now_s=1_250) == []  # re-read: no-op
    s.apply_verdict(_verdict("campaign", "cmp-1"), now_s=1_300)  # both carry cmp-1
    assert s.active(now_s=1_400) == []
    assert [e.entity_id for e in s.active(now_s=1_000 + 3_700)] == ["acct-1", "acct-2"]  # expired
    s.apply_verdict(_verdict("campaign", "cmp-1", verdict="confirmed"), now_s=1_500)
    by = Withdrawal(analyst="bo", reason="harness retired, T-9")
    assert s.withdraw_verdict("account:acct-1", now_s=1_600, by=by) is True
    assert s.withdraw_verdict("account:acct-1", now_s=1_650, by=by) is False  # nothing left
    assert [e.entity_id for e in s.active(now_s=1_700)] == ["acct-1", "acct-2"]
    log = s.audit()
    assert [r["change"] for r in log] == ["withdrawn", "replaced", "issued", "issued"]
    assert (log[0]["analyst"], log[0]["reason"]) == ("bo", "harness retired, T-9")
    assert log[-1]["analyst"] == "ana" and log[-1]["released"] == "account:acct-1"
    s.close()
    again = EnforcementStore(str(tmp_path / "e.db"))  # verdicts and audit survive a restart
    assert [v.key for v in again.verdicts(now_s=1_700)] == ["campaign:cmp-1"]
    assert len(again.audit()) == 4
