from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from app.config import Settings
from app.metrics import Metrics
from app.pipeline import Pipeline
from app.stream.launcher import metric_value
from tests.conftest import event_dict


def samples(m: Metrics) -> dict[str, float]:
    out = {}
    for fam in m.registry.collect():
        for s in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def make(**kw: object) -> tuple[Pipeline, Metrics]:
    m = Metrics.create(CollectorRegistry())
    return Pipeline(Settings(**kw), m, clock=lambda: 1_767_225_600_000), m  # type: ignore[arg-type]


def test_counts_valid_invalid_and_dead_letter_sources() -> None:
    p, m = make()
    values = [
        orjson.dumps([event_dict(event_id="a"), {"bad": 1}, event_dict(event_id="b")]),
        b"garbage",
        orjson.dumps(event_dict(event_id="c")),
    ]
    out = p.handle(values, [0, 1, 2])
    assert out.accepted == 3
    assert [(d.message_index, d.letter.reason) for d in out.dead] == [
        (0, "invalid_event"),
        (1, "invalid_json"),
    ]
    s = samples(m)
    assert metric_value(s, "hydrawatch_messages_consumed_total") == 3
    assert metric_value(s, "hydrawatch_events_consumed_total") == 3
    assert metric_value(s, "hydrawatch_events_invalid_total", reason="invalid_json") == 1
    assert metric_value(s, "hydrawatch_events_invalid_total") == 2


def test_future_events_rejected_when_skew_limit_set() -> None:
    p, _m = make(max_future_skew_ms=60_000)
    future = event_dict(ts_ms=1_767_225_600_000 + 3_600_000)
    out = p.handle([orjson.dumps([future, event_dict(event_id="ok")])])
    assert out.accepted == 1
    assert [d.letter.reason for d in out.dead] == ["ts_in_future"]


def test_each_partition_has_its_own_watermark() -> None:
    p, _ = make()
    t0 = 1_767_225_600_000
    # Partition 0 races ahead by hours; partition 1's older events are not late.
    p.handle([orjson.dumps(event_dict(ts_ms=t0 + 10 * 3_600_000, account_id="x"))], [0])
    out = p.handle([orjson.dumps(event_dict(ts_ms=t0, account_id="y"))], [1])
    assert out.late == 0 and out.accepted == 1
    p.drop_partitions([1])
    assert set(p.engines) == {0}


def test_no_identifiers_in_label_values() -> None:
    p, m = make()
    p.handle([orjson.dumps(event_dict(account_id="acct-SECRET", client_ip="198.51.100.9"))])
    for fam in m.registry.collect():
        for s in fam.samples:
            for v in s.labels.values():
                assert "SECRET" not in v and "198.51" not in v


def test_linkage_spans_the_partitions_of_a_worker() -> None:
    """A campaign whose accounts hash to different partitions is still one campaign."""
    from tests.unit.campaigns.test_linker import ring

    p, m = make(max_future_skew_ms=None)
    events = sorted(ring(10), key=lambda e: int(e["ts_ms"]))  # type: ignore[call-overload]
    by_part = [[e for e in events if int(str(e["account_id"])[1:]) % 2 == k] for k in (0, 1)]
    alerts = []
    for i in range(0, max(len(b) for b in by_part), 50):
        for k, part in enumerate(by_part):
            chunk = part[i : i + 50]
            if chunk:
                alerts += p.handle([orjson.dumps(chunk)], [k]).alerts
    assert p.engines[0].linker is p.engines[1].linker is p.linker
    members = {a.entity_id for a in alerts if a.entity_type == "account" and a.campaign_id}
    assert members == {f"x{i}" for i in range(10)}
    assert metric_value(samples(m), "hydrawatch_tracked_entities", kind="accounts") == 10


def _account_alerts(
    messages: list[tuple[int, bytes]], *, caught_up_after: dict[int, int] | None = None
) -> tuple[set[str], set[str]]:
    """Accounts alerted while the messages are applied, and at the final flush.

    ``caught_up_after``: message index → partition that has nothing more to read after
    it (what the stream layer learns from the consumer's lag).
    """
    p, _ = make(max_future_skew_ms=None)
    during: set[str] = set()
    for i, (part, value) in enumerate(messages):
        out = p.handle([value], [part])
        during |= {a.entity_id for a in out.alerts if a.entity_type == "account"}
        if caught_up_after and i in caught_up_after:
            p.set_caught_up(caught_up_after[i], True)
    at_end: set[str] = set()
    for eng in p.engines.values():
        at_end |= {a.entity_id for a in eng.flush().alerts if a.entity_type == "account"}
    return during, at_end


def _hydra_by_partition(
    *, p1_days: float | None = None
) -> tuple[set[str], dict[int, list[bytes]], list[tuple[int, bytes]]]:
    """Two days of hydra traffic in 500-event envelopes, partitioned by account in two
    (partition 1 cut after ``p1_days``): campaign accounts, per-partition messages, and
    all messages in time order."""
    import zlib

    from app.simulate.emit import iter_events
    from app.simulate.run import build
    from app.simulate.scenario import load_scenario

    sim = build(load_scenario("hydra").with_overrides(days=2.0), scale=0.01)
    campaign = {pl.account_id for pl in sim.plans if pl.campaign_id}
    parts: dict[int, list[bytes]] = {0: [], 1: []}
    chunks: dict[int, list[dict[str, object]]] = {0: [], 1: []}
    in_time_order: list[tuple[int, bytes]] = []
    start: int | None = None
    for event, _, _ in iter_events(sim):
        ts = int(event["ts_ms"])
        start = ts if start is None else start
        part = zlib.crc32(str(event["account_id"]).encode()) % 2
        if part == 1 and p1_days is not None and ts - start > p1_days * 86_400_000:
            continue
        chunks[part].append(event)
        if len(chunks[part]) == 500:
            parts[part].append(orjson.dumps(chunks[part]))
            in_time_order.append((part, parts[part][-1]))
            chunks[part] = []
    return campaign, parts, in_time_order


def _in_partition(accounts: set[str], partition: int) -> set[str]:
    import zlib

    return {a for a in accounts if zlib.crc32(a.encode()) % 2 == partition}


def test_a_lagging_partition_is_judged_in_its_own_time() -> None:
    """The shared linker ticks at the slowest partition's time (catch-up after an outage).

    Partition 1's traffic stops after 36 h; partition 0 is read to its end (two days)
    before the rest of partition 1 (a backlog). Ticking at partition 0's time, no tick
    would run while partition 1 catches up (all its events are "before" the linker's
    clock) and its campaign accounts would never be judged.
    """
    campaign, parts, in_time_order = _hydra_by_partition(p1_days=1.5)
    skewed = [(0, parts[0][0]), (1, parts[1][0])]
    skewed += [(0, v) for v in parts[0][1:]] + [(1, v) for v in parts[1][1:]]
    # A worker never "flushes": what counts is what is alerted while messages arrive.
    last_of_p1 = max(i for i, (part, _) in enumerate(in_time_order) if part == 1)
    during, _ = _account_alerts(in_time_order, caught_up_after={last_of_p1: 1})
    reference = _in_partition(during & campaign, 1)
    assert len(reference) >= 0.5 * len(_in_partition(campaign, 1))
    during, _ = _account_alerts(skewed)
    assert len(_in_partition(during & campaign, 1)) >= 0.95 * len(reference)
    assert len(_in_partition(during & campaign, 0)) >= 0.5 * len(_in_partition(campaign, 0))


def test_a_caught_up_partition_does_not_hold_the_linker_back() -> None:
    campaign, parts, _ = _hydra_by_partition()
    # Partition 1 delivers one message and has nothing more; partition 0 goes on.
    messages = [(1, parts[1][0])] + [(0, v) for v in parts[0]]
    during, _ = _account_alerts(messages)
    assert not during & campaign  # unknown state: partition 1 may still have a backlog
    during, _ = _account_alerts(messages, caught_up_after={0: 1})
    assert len(during & campaign) >= 0.3 * len(campaign)  # ticks ran as partition 0 went
