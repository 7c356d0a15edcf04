"""Offsets, snapshots and restores of the pipeline (what the worker's checkpoints rely on)."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from app.config import Settings
from app.metrics import Metrics
from app.pipeline import Pipeline
from app.simulate.basic import BasicTraffic, generate_basic
from tests.unit.test_pipeline import samples

T0 = 1_767_225_600_000
TRAFFIC = BasicTraffic(
    benign_accounts=80,
    abusive_accounts=3,
    duration_ms=4 * 3_600_000,
    abuse_start_offset_ms=2 * 3_600_000,
    seed=3,
)


def make() -> tuple[Pipeline, Metrics]:
    m = Metrics.create(CollectorRegistry())
    return Pipeline(Settings(max_future_skew_ms=None), m, clock=lambda: T0), m


def messages(size: int = 100) -> list[bytes]:
    events = generate_basic(TRAFFIC)
    return [orjson.dumps(events[i : i + size]) for i in range(0, len(events), size)]


def run(p: Pipeline, values: list[bytes], start: int = 0, step: int = 7) -> list[str]:
    ids = []
    for i in range(start, len(values), step):
        chunk = values[i : i + step]
        out = p.handle(chunk, [0] * len(chunk), list(range(i, i + len(chunk))))
        ids += [a.alert_id for a in out.alerts]
    return ids


def test_restored_snapshot_continues_exactly_like_an_uninterrupted_run() -> None:
    values = messages()
    whole, _ = make()
    reference = run(whole, values, step=5)
    assert len(reference) >= 3

    first, _ = make()
    cut = len(values) // 2
    before = run(first, values[:cut], step=3)
    blob = first.snapshot()
    second, m = make()
    assert second.restore(blob, [0]) == [0]
    assert second.next_offset == {0: cut}
    # The consumer re-delivers from an older commit: already-applied messages are skipped.
    after = run(second, values, start=cut - 4, step=4)
    assert before + after == reference  # same alerts, same order, same ids

    # and the same state: open windows, request counts per account window, linkage sizes
    def windows(p: Pipeline) -> dict[tuple[int, str], float]:
        from app.features import account_features

        return {
            (start, account): account_features(state)["requests"]
            for start, bucket in p.engines[0].windows._buckets.items()
            for account, state in bucket.items()
        }

    assert windows(second) == windows(whole) and windows(whole)
    assert second.linker.sizes() == whole.linker.sizes()
    assert samples(m)["hydrawatch_messages_skipped_total"] == 4


def test_replay_from_reports_the_gap_between_snapshot_and_consumer() -> None:
    p, _ = make()
    p.handle([b"[]"] * 3, [0, 0, 0], [0, 1, 2])
    assert p.replay_from(0, 3) is None
    assert p.replay_from(0, 10) == 3
    assert p.replay_from(1, 10) is None  # nothing known about partition 1


def test_restore_into_a_running_pipeline_adopts_only_new_partitions() -> None:
    values = messages()
    a, _ = make()
    a.handle(values[:4], [1, 1, 2, 2], [0, 1, 0, 1])
    b, _ = make()
    b.handle(values[4:6], [0, 0], [0, 1])
    linker = b.linker
    assert sorted(b.restore(a.snapshot(), [1, 2, 0])) == [1, 2]
    assert b.next_offset == {0: 2, 1: 2, 2: 2}
    assert b.linker is linker  # keeps its own graph and models
    assert all(e.linker is linker and e.detector is b.detector for e in b.engines.values())


def test_snapshot_of_another_version_is_ignored() -> None:
    import pickle

    p, _ = make()
    assert p.restore(pickle.dumps({"version": -1}), [0]) == []


def test_repeated_event_ids_count_once() -> None:
    p, m = make()
    evs = generate_basic(TRAFFIC)[:50]
    p.handle([orjson.dumps(evs)])
    out = p.handle([orjson.dumps(evs[:20])])  # a producer retry
    assert out.accepted == 0 and out.duplicates == 20
    assert samples(m)["hydrawatch_events_duplicate_total"] == 20


def test_a_flood_of_new_account_ids_stays_within_the_caps() -> None:
    from app.config import DetectionSettings

    m = Metrics.create(CollectorRegistry())
    caps = DetectionSettings(
        max_tracked_accounts=200, max_solo_indicators=300, max_pivots=150, max_dedupe_ids=500
    )
    p = Pipeline(Settings(max_future_skew_ms=None, detection=caps), m, clock=lambda: T0)
    flood = [
        {
            "event_id": f"f{i}",
            "ts_ms": T0 + i * 10,
            "account_id": f"flood-{i}",
            "client_ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "model": "m",
            "prompt_tokens": 10,
            "completion_tokens": 10,
            "payment_fingerprint": f"pay-{i}",
            "prompt_template_hash": f"tpl-{i // 2}",  # shared by two: full pivots
        }
        for i in range(20_000)
    ]
    for i in range(0, len(flood), 1_000):
        p.handle([orjson.dumps(flood[i : i + 1_000])])
    sizes = p.linker.sizes()
    assert sizes["accounts"] <= 200
    assert sizes["solo_indicators"] <= 300
    assert sizes["pivots"] <= 150
    assert all(len(e.seen) <= 500 for e in p.engines.values())
    assert samples(m)["hydrawatch_state_evictions_total"] >= 20_000 - 200
    assert samples(m)["hydrawatch_events_consumed_total"] == 20_000  # none dropped
