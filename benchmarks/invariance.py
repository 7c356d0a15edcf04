"""Detection against worker count: one labelled scenario, offline and 1/2/4 workers.

``make bench-invariance`` (``BENCH_ARGS="--scale 0.03 --workers 1,2,4"``): simulates the
scenario (default ``fleet``: benign population, enterprise eval harness, university
class, five campaigns), runs ``hydrawatch detect`` in-process and real worker groups on
the embedded broker (the input keyed by account onto 4 partitions), reads every group's
alerts back from its topic and prints, per run, the comparison table of
:mod:`app.tools.evaluate.invariance` and the cells that differ from the offline run. Sentinel
events 3 h after the end move every partition's watermark past the traffic, so online
runs complete every tick offline runs complete; alerts after the traffic's end + 1 h
are left out of the comparison. Results: ``benchmarks/results/invariance-*.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from app.core.events import AlertEvent
from app.core.settings import DetectionSettings
from app.core.stages.partitioner import account_partitioner
from app.runtime.admin import ensure_topics
from app.tools.broker import broker_for_tests
from app.tools.evaluate.invariance import (
    closing_sentinels,
    first_request_times,
    invariance_table,
    markdown,
    table_diff,
)
from app.tools.evaluate.labels import load_labels
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.offline import detect_file
from benchmarks.report import write_result

PARTITIONS = 4
HOUR_MS = 3_600_000


def _read_topic(bootstrap: str, topic: str, settle_s: float = 2.0) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=50)
    out: list[dict[str, Any]] = []
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        quiet = time.monotonic()
        while time.monotonic() - quiet < settle_s:
            for recs in consumer.poll(timeout_ms=200).values():
                out.extend(orjson.loads(r.value) for r in recs)
                quiet = time.monotonic()
    finally:
        consumer.close()
    return out


def _produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> int:
    from kafka import KafkaProducer

    part = account_partitioner(PARTITIONS)
    by_p: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_p.setdefault(part(e["account_id"]), []).append(e)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=8 * 1024 * 1024
    )
    messages = 0
    try:
        for p, evs in sorted(by_p.items()):
            for i in range(0, len(evs), 500):
                producer.send(topic, value=orjson.dumps(evs[i : i + 500]), partition=p)
                messages += 1
        producer.flush(timeout=120)
    finally:
        producer.close()
    return messages


def _online(
    broker_url: str, bootstrap: str, topic: str, workers: int, messages: int
) -> tuple[list[dict[str, Any]], float]:
    tag = uuid.uuid4().hex[:8]
    alerts, dlq = f"inv-{tag}.alerts", f"inv-{tag}.dlq"
    ensure_topics(bootstrap, [alerts, dlq], partitions=PARTITIONS)
    env = {
        "HYDRAWATCH_INPUT_TOPIC": topic,
        "HYDRAWATCH_ALERT_TOPIC": alerts,
        "HYDRAWATCH_DLQ_TOPIC": dlq,
        "HYDRAWATCH_TOPIC_PARTITIONS": str(PARTITIONS),
        "HYDRAWATCH_MAX_FUTURE_SKEW_MS": "none",
    }
    ws = [
        WorkerProcess(broker_url=broker_url, app_id=f"inv-{tag}", env=env).start()
        for _ in range(workers)
    ]
    t0 = time.monotonic()
    try:
        for w in ws:
            w.wait_assigned(min_partitions=1, timeout_s=120)
        while True:
            pos = sum(metric_value(w.metrics(), "hydrawatch_input_position") for w in ws)
            if pos >= messages:
                break
            time.sleep(1)
        last, stable = -1, 0
        while stable < 3:
            time.sleep(3)
            n = int(sum(metric_value(w.metrics(), "hydrawatch_stage_records_total") for w in ws))
            stable = stable + 1 if n == last else 0
            last = n
        seconds = time.monotonic() - t0
        return _read_topic(bootstrap, alerts), seconds
    finally:
        for w in ws:
            w.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="fleet")
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    from app.tools.simulate.run import build, write_files
    from app.tools.simulate.scenario import load_scenario

    scenario = load_scenario(args.scenario).with_overrides(seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="hydrawatch-inv-") as tmp:
        d = Path(tmp)
        write_files(build(scenario, scale=args.scale), d / "sim.jsonl", d / "labels.csv")
        events = [orjson.loads(x) for x in (d / "sim.jsonl").read_bytes().splitlines()]
        events.sort(key=lambda e: e["ts_ms"])
        labels = load_labels(d / "labels.csv")
        end = events[-1]["ts_ms"]
        first = first_request_times((e["ts_ms"], e["account_id"]) for e in events)
        events += closing_sentinels(
            partitions=PARTITIONS,
            after_ms=end + 3 * HOUR_MS,
            rank=DetectionSettings().watermark_rank,
            partition_of=account_partitioner(PARTITIONS),
        )
        path = d / "events.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        print(f"{args.scenario} scale {args.scale}: {len(events):,} events")

        def table(alerts: list[dict[str, Any]]) -> Any:
            kept = [AlertEvent.model_validate(a) for a in alerts if a["ts_ms"] <= end + HOUR_MS]
            return invariance_table(kept, labels, first, end_ms=end)

        offline: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        detect_file(
            str(path),
            settings=DetectionSettings(),
            on_alert=lambda a: offline.append(orjson.loads(a.model_dump_json())),
            partitions=PARTITIONS,
        )
        runs: dict[str, Any] = {
            "offline": {"seconds": round(time.perf_counter() - t0, 1), "table": table(offline)}
        }
        print("offline:\n" + markdown(runs["offline"]["table"]))
        with broker_for_tests() as broker:
            topic = f"inv-{uuid.uuid4().hex[:8]}.requests"
            ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
            messages = _produce(broker.bootstrap, topic, events)
            for n in (int(x) for x in args.workers.split(",")):
                alerts, secs = _online(broker.url, broker.bootstrap, topic, n, messages)
                t = table(alerts)
                diff = table_diff(runs["offline"]["table"], t)
                ids_off = {
                    (a["alert_id"], a["ts_ms"]) for a in offline if a["ts_ms"] <= end + HOUR_MS
                }
                ids_on = {
                    (a["alert_id"], a["ts_ms"]) for a in alerts if a["ts_ms"] <= end + HOUR_MS
                }
                runs[f"{n}_workers"] = {
                    "seconds": round(secs, 1),
                    "table": t,
                    "differs_from_offline": diff,
                    "alert_ids_missing": len(ids_off - ids_on),
                    "alert_ids_extra": len(ids_on - ids_off),
                }
                print(f"{n} worker(s), {secs:.0f} s:\n" + markdown(t))
                print(
                    f"  cells differing from offline: {diff or 'none'}; alert ids "
                    f"missing {len(ids_off - ids_on)}, extra {len(ids_on - ids_off)}"
                )
    result = {
        "scenario": args.scenario,
        "scale": args.scale,
        "events": len(events),
        "runs": {
            k: {**v, "table": v["table"].as_dict(), "markdown": markdown(v["table"])}
            for k, v in runs.items()
        },
    }
    print(f"→ {write_result('invariance', result)}")


if __name__ == "__main__":
    main()
