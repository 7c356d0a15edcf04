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
