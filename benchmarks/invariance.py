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
from app.core.verdicts import Verdict
from app.runtime.admin import ensure_topics
from app.runtime.verdicts import publish_verdict
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
    broker_url: str,
    bootstrap: str,
    topic: str,
    workers: int,
    messages: int,
    verdicts: list[Verdict] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    tag = uuid.uuid4().hex[:8]
    alerts, dlq = f"inv-{tag}.alerts", f"inv-{tag}.dlq"
    verdict_topic = f"inv-{tag}.verdicts"
    ensure_topics(bootstrap, [alerts, dlq], partitions=PARTITIONS)
    ensure_topics(bootstrap, [verdict_topic], partitions=1, config={"cleanup.policy": "compact"})
    for v in verdicts or []:
        publish_verdict(bootstrap, verdict_topic, verdict=v)
    env = {
        "HYDRAWATCH_INPUT_TOPIC": topic,
        "HYDRAWATCH_ALERT_TOPIC": alerts,
        "HYDRAWATCH_DLQ_TOPIC": dlq,
        "HYDRAWATCH_VERDICT_TOPIC": verdict_topic,
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


def _key(a: dict[str, Any]) -> tuple[str, int, str]:
    return a["alert_id"], a["ts_ms"], a["action"]


def _campaign_verdict(alerts: list[dict[str, Any]]) -> Verdict:
    """A benign verdict on the campaign with the most member alerts: from 2 h after its
    first alert, for 6 h."""
    members: dict[str, int] = {}
    first: dict[str, int] = {}
    for a in alerts:
        cid = a.get("campaign_id")
        if cid and a["entity_type"] == "account":
            members[cid] = members.get(cid, 0) + 1
            first[cid] = min(first.get(cid, a["ts_ms"]), a["ts_ms"])
    cid = max(sorted(members), key=lambda c: members[c])
    issued = first[cid] + 2 * HOUR_MS
    return Verdict(
        subject_kind="campaign",
        subject=cid,
        verdict="benign",
        reason="invariance benchmark: an analyst allows it",
        analyst="bench",
        issued_ms=issued,
        expires_ms=issued + 6 * HOUR_MS,
    )


def _verdict_effect(
    before: list[dict[str, Any]], after: list[dict[str, Any]], v: Verdict
) -> dict[str, int]:
    """Enforcing alerts on the campaign while allowed (after its first tick: must be 0),
    suppressed alerts, and enforcing alerts on it after the verdict expired."""
    tick = DetectionSettings().linkage_tick_ms
    assert v.expires_ms is not None

    def on_it(a: dict[str, Any]) -> bool:
        return a.get("campaign_id") == v.subject and a["action"] in ("throttle", "block")

    return {
        "enforcing_before_verdict": sum(1 for a in before if on_it(a)),
        "enforcing_while_allowed_after_first_tick": sum(
            1 for a in after if on_it(a) and v.issued_ms + tick <= a["ts_ms"] < v.expires_ms
        ),
        "suppressed": sum(1 for a in after if a.get("verdict_id") == v.verdict_id),
        "enforcing_after_expiry": sum(1 for a in after if on_it(a) and a["ts_ms"] >= v.expires_ms),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="fleet")
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument(
        "--campaign-verdict",
        action="store_true",
        help="also: a benign verdict on the most alerted campaign, 2 h after its first alert "
        "for 6 h, offline and through the workers (the verdicts topic)",
    )
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
        if args.campaign_verdict:
            v = _campaign_verdict(offline)
            with_v: list[dict[str, Any]] = []
            detect_file(
                str(path),
                settings=DetectionSettings(),
                on_alert=lambda a: with_v.append(orjson.loads(a.model_dump_json())),
                partitions=PARTITIONS,
                verdicts=[v],
            )
            effect = _verdict_effect(offline, with_v, v)
            print(f"benign verdict on {v.key} for [{v.issued_ms}, {v.expires_ms}): {effect}")
            runs["offline_with_verdict"] = {"table": table(with_v), "verdict": effect}
            with broker_for_tests() as broker:
                topic = f"inv-{uuid.uuid4().hex[:8]}.requests"
                ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
                messages = _produce(broker.bootstrap, topic, events)
                for n in (int(x) for x in args.workers.split(",")):
                    alerts, secs = _online(
                        broker.url, broker.bootstrap, topic, n, messages, verdicts=[v]
                    )
                    off = {_key(a) for a in with_v if a["ts_ms"] <= end + HOUR_MS}
                    on = {_key(a) for a in alerts if a["ts_ms"] <= end + HOUR_MS}
                    runs[f"{n}_workers_with_verdict"] = {
                        "seconds": round(secs, 1),
                        "table": table(alerts),
                        "verdict": _verdict_effect(offline, alerts, v),
                        "alerts_missing": len(off - on),
                        "alerts_extra": len(on - off),
                    }
                    print(
                        f"{n} worker(s) with the verdict, {secs:.0f} s: alerts (id, time, "
                        f"action) missing {len(off - on)}, extra {len(on - off)}; "
                        f"{runs[f'{n}_workers_with_verdict']['verdict']}"
                    )
    result = {
        "scenario": args.scenario,
        "scale": args.scale,
        "events": len(events),
        "runs": {
            k: {**r, "table": r["table"].as_dict(), "markdown": markdown(r["table"])}
            for k, r in runs.items()
        },
    }
    print(f"→ {write_result('invariance', result)}")


if __name__ == "__main__":
    main()
