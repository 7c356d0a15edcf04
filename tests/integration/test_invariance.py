"""Detection is a property of the traffic, not of the deployment (real broker).

The same labelled traffic — a benign population with hard negatives and a campaign —
keyed by account onto 4 partitions, through one worker, two workers sharing the
partitions, and ``hydrawatch detect`` in-process: the same alerted accounts, the same
campaigns with the same members, the same alert ids at the same event times.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.core.settings import DetectionSettings
from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle
from app.tools.evaluate.invariance import closing_sentinels
from app.tools.launcher import metric_value
from app.tools.offline import detect_file
from tests.conftest import PARTITIONS
from tests.integration.helpers import partition_for, produce_batches
from tests.reliability.helpers import Run, read_all, wait_for

pytestmark = pytest.mark.integration

_HOUR = 3_600_000


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], int]:
    """(events file, events, newest real event time); sentinels close every partition."""
    from app.tools.simulate.run import build, write_files
    from app.tools.simulate.scenario import load_scenario

    sc = load_scenario("hydra").with_overrides(days=1.5)
    sc = sc.model_copy(
        update={"campaigns": [c.model_copy(update={"start_h": 9}) for c in sc.campaigns]}
    )
    d = tmp_path_factory.mktemp("inv")
    write_files(build(sc, scale=0.01), d / "sim.jsonl", d / "labels.csv")
    events = [orjson.loads(x) for x in (d / "sim.jsonl").read_bytes().splitlines()]
    events.sort(key=lambda e: e["ts_ms"])
    newest = events[-1]["ts_ms"]
    events += closing_sentinels(
        partitions=PARTITIONS,
        after_ms=newest + 3 * _HOUR,
        rank=DetectionSettings().watermark_rank,
        partition_of=lambda a: partition_for(a, PARTITIONS),
    )
    path = d / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path, events, newest


def _summary(alerts: list[dict[str, Any]], until_ms: int) -> dict[str, Any]:
    kept = [a for a in alerts if a["ts_ms"] <= until_ms]
    members: dict[str, set[str]] = {}
    for a in kept:
        if a["entity_type"] == "account" and a["campaign_id"]:
            members.setdefault(a["campaign_id"], set()).add(a["entity_id"])
    return {
        "accounts": {a["entity_id"] for a in kept if a["entity_type"] == "account"},
        "campaigns": {c: frozenset(m) for c, m in members.items()},
        "alerts": {(a["alert_id"], a["ts_ms"]) for a in kept},
    }


def _diff(name: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for k in ("accounts", "campaigns", "alerts"):
        x, y = a[k], b[k]
        if isinstance(x, dict):
            x, y = set(x.items()), set(y.items())
        if x != y:
            out.append(
                f"{name} {k}: {len(x - y)} missing, {len(y - x)} extra; "
                f"e.g. missing {sorted(map(str, x - y))[:3]}, extra {sorted(map(str, y - x))[:3]}"
            )
    return out


@pytest.fixture(scope="module")
def input_topic(
    broker: BrokerHandle, traffic: tuple[Path, list[dict[str, Any]], int]
) -> Iterator[str]:
    topic = f"inv-{time.time_ns()}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
    produce_batches(broker.bootstrap, topic, traffic[1], partitions=PARTITIONS, batch_size=200)
    yield topic


def _online(broker: BrokerHandle, topic: str, workers: int, messages: int) -> list[dict[str, Any]]:
    run = Run(
        broker_url=broker.url,
        bootstrap=broker.bootstrap,
        input_topic=topic,
        env={"HYDRAWATCH_CHECKPOINT_INTERVAL_S": "0"},
    )
    try:
        ws = [run.worker() for _ in range(workers)]
        for w in ws:
            w.wait_assigned(min_partitions=1, timeout_s=90)

        def done() -> bool:
            pos = sum(metric_value(w.metrics(), "hydrawatch_input_position") for w in ws)
            return pos >= messages

        wait_for(done, timeout_s=600, what="input applied", log=ws[0].log_tail)
        # then until the campaign stage stops producing (its clock passed the traffic)
        last: int | None = None
        stable = 0
        while stable < 3:
            time.sleep(3)
            n = len(read_all(broker.bootstrap, run.alerts, settle_s=1.0))
            stable = stable + 1 if n == last else 0
            last = n
        return read_all(broker.bootstrap, run.alerts)
    finally:
        run.stop_all()


def test_same_alerts_with_one_two_workers_and_offline(
    broker: BrokerHandle, traffic: tuple[Path, list[dict[str, Any]], int], input_topic: str
) -> None:
    path, events, newest = traffic
    offline: list[dict[str, Any]] = []
    detect_file(
        str(path),
        settings=DetectionSettings(),
        on_alert=lambda a: offline.append(orjson.loads(a.model_dump_json())),
        partitions=PARTITIONS,
    )
    until = newest + _HOUR
    base = _summary(offline, until)
    assert base["campaigns"], "the scenario must exercise campaign linkage"
    per_part: dict[int, int] = {}
    for e in events:
        p = partition_for(e["account_id"], PARTITIONS)
        per_part[p] = per_part.get(p, 0) + 1
    messages = sum(-(-n // 200) for n in per_part.values())
    problems: list[str] = []
    for workers in (1, 2):
        got = _summary(_online(broker, input_topic, workers, messages), until)
        problems += _diff(f"{workers} worker(s) vs offline", base, got)
    assert not problems, "\n".join(problems)
