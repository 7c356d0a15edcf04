from __future__ import annotations

from app.config import DetectionSettings
from app.engine import Engine
from app.events import RequestEvent
from app.simulate.basic import ABUSIVE_PREFIX, BasicTraffic, generate_basic


def events(cfg: BasicTraffic) -> list[RequestEvent]:
    return [RequestEvent.model_validate(e) for e in generate_basic(cfg)]


CFG = BasicTraffic(
    benign_accounts=150,
    abusive_accounts=3,
    duration_ms=3 * 3_600_000,
    abuse_start_offset_ms=2 * 3_600_000,
    seed=11,
)


def run(evs: list[RequestEvent], chunk: int) -> list[str]:
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    out = []
    for i in range(0, len(evs), chunk):
        out += eng.process(evs[i : i + chunk]).alerts
    out += eng.flush().alerts
    return [a.model_dump_json() for a in out]


def test_engine_flags_every_abusive_account_and_few_benign() -> None:
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    alerts = eng.process(events(CFG)).alerts + eng.flush().alerts
    flagged = {a.entity_id for a in alerts}
    abusive = {f"{ABUSIVE_PREFIX}{j:04d}" for j in range(CFG.abusive_accounts)}
    assert abusive <= flagged
    benign = flagged - abusive
    assert len(benign) <= 0.02 * CFG.benign_accounts
    first = min(a.ts_ms for a in alerts if a.entity_id in abusive)
    abuse_start = CFG.start_ms + CFG.abuse_start_offset_ms
    assert first - abuse_start <= 2 * DetectionSettings().window_ms


def test_result_does_not_depend_on_batch_size() -> None:
    evs = events(CFG)
    assert run(evs, 100) == run(evs, 7_000)


def test_late_events_counted() -> None:
    eng = Engine(DetectionSettings(window_ms=60_000, grace_ms=1_000), clock=lambda: 0)
    base = {
        "account_id": "a",
        "client_ip": "10.0.0.1",
        "model": "m",
        "prompt_tokens": 1,
        "completion_tokens": 1,
    }
    t0 = 1_767_225_600_000
    r1 = eng.process(
        [RequestEvent.model_validate({**base, "event_id": "1", "ts_ms": t0 + 120_000})]
    )
    r2 = eng.process([RequestEvent.model_validate({**base, "event_id": "2", "ts_ms": t0})])
    assert (r1.accepted, r1.late, r2.accepted, r2.late) == (1, 0, 0, 1)


def test_one_alert_per_cooldown() -> None:
    eng = Engine(DetectionSettings(cooldown_ms=10**12), clock=lambda: 0)
    alerts = eng.process(events(CFG)).alerts + eng.flush().alerts
    ids = [a.entity_id for a in alerts]
    assert len(ids) == len(set(ids))
