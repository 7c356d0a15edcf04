from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import DetectionSettings
from app.engine import BatchResult, Engine
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


def _window_counts(
    events: list[RequestEvent], batch: int
) -> tuple[dict[tuple[str, int], float], int]:
    """Requests per closed (account, window) and late events, processing in arrival order."""
    from app.features import account_features

    settings = DetectionSettings(window_ms=60_000, grace_ms=10_000)
    eng = Engine(settings, clock=lambda: 0)
    counts: dict[tuple[str, int], float] = {}
    late = 0

    def record(closed):  # type: ignore[no-untyped-def]
        for start, account, state in closed:
            counts[(account, start)] = account_features(state)["requests"]
            yield start, account, state

    original = eng._score
    eng._score = lambda closed, out: original(record(closed), out)  # type: ignore[method-assign]
    for i in range(0, len(events), batch):
        late += eng.process(events[i : i + batch]).late
    eng._score(eng.windows.close_all(), BatchResult())
    return counts, late


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=50))
def test_out_of_order_within_grace_counts_like_in_order(rng, batch: int) -> None:  # type: ignore[no-untyped-def]
    t0 = 1_767_225_600_000
    base = {"client_ip": "10.0.0.1", "model": "m", "prompt_tokens": 1, "completion_tokens": 1}
    events = [
        RequestEvent.model_validate(
            {**base, "event_id": str(i), "account_id": f"a{i % 7}", "ts_ms": t0 + i * 1_000}
        )
        for i in range(600)
    ]
    # Arrival order: each event delayed by up to 9 s (< the 10 s grace) of stream time.
    arrival = sorted(events, key=lambda e: e.ts_ms + rng.randint(0, 9_000))
    in_order, late_sorted = _window_counts(events, batch)
    shuffled, late_shuffled = _window_counts(arrival, batch)
    assert late_sorted == late_shuffled == 0
    assert shuffled == in_order
    # Beyond the grace period: late, counted, not added.
    too_late = [*events, events[0].model_copy(update={"event_id": "old"})]
    _, late = _window_counts(too_late, batch)
    assert late == 1
