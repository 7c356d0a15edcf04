"""End-to-end throughput benchmark on the embedded broker (``make bench``).

1. simulate N events (the hydra scenario, sized by --scale) and pre-load them into a
   fresh input topic as batch envelopes, partitioned by account;
2. raw baseline: one aiokafka consumer reads every message and decodes every event with
   orjson, nothing else;
3. hydrawatch: one worker process consumes the same topic from the start through the
   full pipeline until its metrics show every event processed;
4. prints events/s for both, the ratio, the worker's peak RSS and RSS per active
   account, and writes a JSON result under benchmarks/results/.

5. at a fixed offered load of half the one-worker rate, p50/p99 latency from produce to
   alert (``benchmarks/latency.py``: every alert is timed from the message that
   completed its evidence);
6. with --two-workers (default), two workers in one consumer group over the same topic.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from app.core.settings import DetectionSettings
from app.runtime.admin import ensure_topics
from app.tools.broker import TansuBroker
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.run import build, produce_to_kafka
from app.tools.simulate.scenario import load_scenario

try:  # run as a script (python benchmarks/run.py) or as a module
    from latency import measure_latency  # type: ignore[import-not-found]
    from memory import measure as measure_memory  # type: ignore[import-not-found]
    from report import RESULTS, header, write_result  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    from benchmarks.latency import measure_latency
    from benchmarks.memory import measure as measure_memory
    from benchmarks.report import RESULTS, header, write_result


def _reader(bootstrap: str, topic: str, **kw: Any) -> Any:
    """An aiokafka consumer of ``topic`` from its start, outside any group."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        **kw,
    )


async def raw_consume(bootstrap: str, topic: str, expected: int) -> tuple[int, float]:
    """The raw baseline: read and orjson-decode every event; (events, seconds)."""
    consumer = _reader(
        bootstrap,
        topic,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    n = 0
    t0 = time.perf_counter()
    try:
        while n < expected:
            batches = await consumer.getmany(timeout_ms=1_000, max_records=10_000)
            for records in batches.values():
                for r in records:
                    value = orjson.loads(r.value)
                    n += len(value) if isinstance(value, list) else 1
            if time.perf_counter() - t0 > 600:
                break
    finally:
        await consumer.stop()
    return n, time.perf_counter() - t0


async def _read_alerts(bootstrap: str, topic: str, idle_s: float = 3.0) -> list[dict[str, Any]]:
    """Every alert on the topic (read until nothing new arrives for ``idle_s``)."""
    consumer = _reader(bootstrap, topic)
    await consumer.start()
    out: list[dict[str, Any]] = []
    last = time.perf_counter()
    try:
        while time.perf_counter() - last < idle_s:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                out += [orjson.loads(r.value) for r in records]
                last = time.perf_counter()
    finally:
        await consumer.stop()
    return out


def _rss_kb(pid: int, field: str = "VmHWM") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (every thread: the honest worker cost)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (if installed) sampling the worker: where its whole CPU goes."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("--profile: py-spy is not installed (pip install py-spy); skipped")
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


#: Extra worker settings from the command line (``--event-loop``).
WORKER_EXTRA_ENV: dict[str, str] = {}


def _worker_env(topics: dict[str, str], partitions: int) -> dict[str, str]:
    return {
        **WORKER_EXTRA_ENV,
        "HYDRAWATCH_INPUT_TOPIC": topics["input"],
        "HYDRAWATCH_ALERT_TOPIC": topics["alerts"],
        "HYDRAWATCH_DLQ_TOPIC": topics["dlq"],
        "HYDRAWATCH_TOPIC_PARTITIONS": str(partitions),
        "HYDRAWATCH_MAX_FUTURE_SKEW_MS": "none",
        "HYDRAWATCH_LOGLEVEL": "warning",
    }


def _stage_figures(samples: dict[str, float], events: float) -> dict[str, Any]:
    """Per stage: CPU seconds, records applied, CPU µs per input event; internal bytes."""
    out: dict[str, Any] = {}
    total = 0.0
    for stage in ("account", "pivot", "campaign"):
        cpu = metric_value(samples, "hydrawatch_stage_cpu_seconds_total", stage=stage)
        recs = metric_value(samples, "hydrawatch_stage_records_total", stage=stage)
        total += cpu
        out[stage] = {
            "cpu_s": round(cpu, 2),
            "records": int(recs),
            "cpu_us_per_event": round(cpu / events * 1e6, 1) if events else None,
            "records_per_cpu_s": round(recs / cpu) if cpu else None,
        }
    out["total_cpu_us_per_event"] = round(total / events * 1e6, 1) if events else None
    for topic in ("observations", "links"):
        b = metric_value(samples, "hydrawatch_internal_bytes_total", topic=topic)
        out[f"{topic}_bytes_per_event"] = round(b / events, 1) if events else None
    return out


def _downstream_caught_up(samples: list[dict[str, float]]) -> bool:
    """Has the campaign stage's clock reached the input's watermark (every stage has
    applied what the input allows; the last buckets stay open: no event closes them)?"""
    wms = [metric_value(x, "hydrawatch_watermark_seconds") for x in samples]
    camp = [metric_value(x, "hydrawatch_stage_clock_seconds", stage="campaign") for x in samples]
    wm = min((w for w in wms if w > 0), default=0.0)
    return wm > 0 and max(camp) >= wm - 0.001


def _wait_downstream(
    workers: list[WorkerProcess], t0: float, timeout_s: float
) -> tuple[bool, list[dict[str, float]]]:
    samples = [w.metrics() for w in workers]
    while not _downstream_caught_up(samples) and time.perf_counter() - t0 < timeout_s:
        time.sleep(0.5)
        samples = [w.metrics() for w in workers]
    return _downstream_caught_up(samples), samples


def _two_workers(
    broker: TansuBroker, topics: dict[str, str], tag: str, n: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Two workers in a fresh group over the same topic: combined events/s."""
    group = f"bench2-{tag}"
    a = WorkerProcess(
        broker_url=broker.handle.url, app_id=group, env=_worker_env(topics, args.partitions)
    ).start()
    b = WorkerProcess(
        broker_url=broker.handle.url, app_id=group, env=_worker_env(topics, args.partitions)
    ).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                parts = [
                    metric_value(w.metrics(), "hydrawatch_assigned_partitions") for w in (a, b)
                ]
            except OSError:
                parts = [0.0, 0.0]
            if all(p >= 1 for p in parts) and sum(parts) == args.partitions:
                break
            time.sleep(0.3)
        t0 = time.perf_counter()
        done = 0.0
        while time.perf_counter() - t0 < args.timeout_s:
            done = sum(
                metric_value(w.metrics(), "hydrawatch_events_consumed_total") for w in (a, b)
            )
            if done >= n:
                break
            time.sleep(0.5)
        secs = time.perf_counter() - t0
        caught_up, _ = _wait_downstream([a, b], t0, args.timeout_s)
        all_s = time.perf_counter() - t0
    finally:
        a.stop()
        b.stop()
    print(
        f"two workers: {int(done):,} events consumed in {secs:.1f}s ({done / secs:,.0f} ev/s); "
        f"every stage through in {all_s:.1f}s ({done / all_s:,.0f} ev/s)"
    )
    return {
        "events": int(done),
        "seconds": round(secs, 2),
        "events_per_s": round(done / secs) if secs else 0,
        "completed": done >= n,
        # until the campaign stage's clock reached the input's watermark
        "all_stages_seconds": round(all_s, 2),
        "all_stages_events_per_s": round(done / all_s) if all_s else 0,
        "all_stages_completed": caught_up,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.14, help="hydra scale (0.14 ≈ 1M events)")
    ap.add_argument("--days", type=float, default=3.0)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--timeout-s", type=float, default=900.0)
    ap.add_argument(
        "--two-workers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure two workers in one consumer group",
    )
    ap.add_argument(
        "--latency",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure produce-to-alert latency at half the one-worker rate",
    )
    ap.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="memory per active account (benchmarks/memory.py, light and steady profiles)",
    )
    ap.add_argument(
        "--latency-split",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure latency with one worker per stage (deploy/'s stages profile)",
    )
    ap.add_argument(
        "--latency-rate",
        type=float,
        default=None,
        help="offered events/s for the latency runs (default: half the one-worker rate)",
    )
    ap.add_argument("--latency-scale", type=float, default=0.04)
    ap.add_argument("--latency-days", type=float, default=1.5)
    ap.add_argument("--latency-batch", type=int, default=100, help="events per message")
    ap.add_argument(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the workers' event loop (HYDRAWATCH_EVENT_LOOP)",
    )
    ap.add_argument(
        "--compression",
        choices=("lz4", "zstd", "gzip", "none"),
        default="lz4",
        help="codec of the pre-loaded input (what `hydrawatch simulate` uses by default)",
    )
    ap.add_argument(
        "--profile",
        default=None,
        help="write a py-spy raw (collapsed stacks) profile of the one-worker run here",
    )
    ap.add_argument("--profile-s", type=float, default=120.0, help="seconds to sample")
    args = ap.parse_args()
    WORKER_EXTRA_ENV["HYDRAWATCH_EVENT_LOOP"] = args.event_loop

    scenario = load_scenario("hydra").with_overrides(days=args.days)
    sim = build(scenario, scale=args.scale)
    result: dict[str, Any] = {
        **header(),
        "scenario": "hydra",
        "scale": args.scale,
        "partitions": args.partitions,
        "event_loop": args.event_loop,
        "compression": args.compression,
    }
    with TansuBroker() as broker:
        tag = uuid.uuid4().hex[:8]
        topics = {
            "input": f"bench-{tag}.requests",
            "alerts": f"bench-{tag}.alerts",
            "dlq": f"bench-{tag}.dlq",
        }
        ensure_topics(broker.bootstrap, list(topics.values()), partitions=args.partitions)
        t0 = time.perf_counter()
        summary = produce_to_kafka(
            sim,
            bootstrap=broker.bootstrap,
            topic=topics["input"],
            rate=0,
            partitions=args.partitions,
            batch_events=1_000,
            compression_type=None if args.compression == "none" else args.compression,
        )
        produce_s = time.perf_counter() - t0
        n = summary.events
        result["events"] = n
        result["preload"] = {"seconds": round(produce_s, 2), "events_per_s": round(n / produce_s)}
        print(f"pre-loaded {n:,} events in {produce_s:.1f}s ({n / produce_s:,.0f} ev/s)")

        got, raw_s = asyncio.run(raw_consume(broker.bootstrap, topics["input"], n))
        result["raw_baseline"] = {
            "events": got,
            "seconds": round(raw_s, 2),
            "events_per_s": round(got / raw_s),
        }
        print(
            f"raw aiokafka+orjson baseline: {got:,} events in {raw_s:.1f}s "
            f"({got / raw_s:,.0f} ev/s)"
        )

        worker = WorkerProcess(
            broker_url=broker.handle.url,
            app_id=f"bench-{tag}",
            env=_worker_env(topics, args.partitions),
        )
        with worker:
            worker.wait_assigned(min_partitions=args.partitions, timeout_s=120)
            cpu0 = _cpu_s(worker.pid or 0)
            spy = (
                _profile(worker.pid or 0, Path(args.profile), args.profile_s)
                if args.profile
                else None
            )
            t0 = time.perf_counter()
            done = 0.0
            samples: dict[str, float] = {}
            while time.perf_counter() - t0 < args.timeout_s:
                samples = worker.metrics()
                done = metric_value(samples, "hydrawatch_events_consumed_total")
                if done >= n:
                    break
                time.sleep(0.5)
            consumed_s = time.perf_counter() - t0
            # the pivot and campaign stages finish what the account stage sent: until the
            # campaign stage's clock reaches the input's watermark
            caught_up, last_samples = _wait_downstream([worker], t0, args.timeout_s)
            samples = last_samples[0]
            hw_s = time.perf_counter() - t0
            worker_cpu_s = _cpu_s(worker.pid or 0) - cpu0
            if spy is not None:
                spy.wait(timeout=120)
            stages = _stage_figures(samples, done)
            print(f"per stage: {stages}")
            peak_kb = _rss_kb(worker.pid or 0)
            end_kb = _rss_kb(worker.pid or 0, "VmRSS")
            accounts = metric_value(samples, "hydrawatch_tracked_entities", kind="accounts")
            alerts = metric_value(samples, "hydrawatch_alerts_emitted_total")
            checkpoints = {
                "written": int(metric_value(samples, "hydrawatch_checkpoints_written_total")),
                "seconds_total": round(
                    metric_value(samples, "hydrawatch_checkpoint_seconds_sum"), 2
                ),
                "last_compressed_mb": round(
                    metric_value(samples, "hydrawatch_checkpoint_bytes") / 2**20, 1
                ),
            }
        published = asyncio.run(_read_alerts(broker.bootstrap, topics["alerts"]))
        by_kind: dict[str, int] = {}
        for a in published:
            k = f"{a['entity_type']}/{a['severity']}"
            by_kind[k] = by_kind.get(k, 0) + 1
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "last-worker-alerts.jsonl").write_bytes(
            b"".join(orjson.dumps(a) + b"\n" for a in published)
        )
        result["hydrawatch"] = {
            "events": int(done),
            "seconds": round(hw_s, 2),
            "events_per_s": round(done / hw_s) if hw_s else 0,
            # the whole worker process (every stage, faust, fetching, checkpoints, metrics)
            "process_cpu_s": round(worker_cpu_s, 2),
            "process_cpu_us_per_event": round(worker_cpu_s / done * 1e6, 1) if done else None,
            "alerts": int(alerts),
            "alerts_on_topic": len(published),
            "alerts_on_topic_by_kind": dict(sorted(by_kind.items())),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "end_rss_mb": round(end_kb / 1024, 1),
            "tracked_accounts": int(accounts),
            "rss_kb_per_tracked_account": round(peak_kb / accounts, 2) if accounts else None,
            "rss_mb_per_100k_tracked_accounts": (
                round(peak_kb / accounts * 100_000 / 1024, 1) if accounts else None
            ),
            "completed": done >= n,
            "account_stage_seconds": round(consumed_s, 2),
            "all_stages_completed": caught_up,
            # what the worker did not apply (or applied once): must be explainable
            "late": int(metric_value(samples, "hydrawatch_events_late_total")),
            "duplicates": int(metric_value(samples, "hydrawatch_events_duplicate_total")),
            "invalid": int(metric_value(samples, "hydrawatch_events_invalid_total")),
            "windows_closed": int(metric_value(samples, "hydrawatch_windows_closed_total")),
            # a rebalance mid-run (e.g. a missed heartbeat) shows up here
            "state_restored": int(metric_value(samples, "hydrawatch_state_restored_total")),
            "messages_replayed": int(metric_value(samples, "hydrawatch_messages_replayed_total")),
            "messages_skipped": int(metric_value(samples, "hydrawatch_messages_skipped_total")),
            # how long one batch holds the event loop (heartbeats wait meanwhile)
            "batches": int(metric_value(samples, "hydrawatch_batch_processing_seconds_count")),
            "batch_seconds_mean": round(
                metric_value(samples, "hydrawatch_batch_processing_seconds_sum")
                / max(1.0, metric_value(samples, "hydrawatch_batch_processing_seconds_count")),
                3,
            ),
            "batches_over_2_5_s": int(
                metric_value(samples, "hydrawatch_batch_processing_seconds_count")
                - metric_value(samples, "hydrawatch_batch_processing_seconds_bucket", le="2.5")
            ),
            "checkpoints": checkpoints,
            "stages": stages,
        }
        print(f"checkpoints during the run: {checkpoints}")
        print(
            "late {late}, duplicates {duplicates}, invalid {invalid}, "
            "windows closed {windows_closed}, restores {state_restored}, "
            "replayed {messages_replayed}, skipped {messages_skipped}".format(
                **result["hydrawatch"]
            )
        )
        print(f"alerts on the topic: {len(published)} {by_kind}")
        if args.latency and done and hw_s:
            rate = args.latency_rate or 0.5 * done / hw_s
            for split in (False, True) if args.latency_split else (False,):
                lat = measure_latency(
                    broker,
                    _worker_env(topics, args.partitions),
                    rate=rate,
                    scale=args.latency_scale,
                    days=args.latency_days,
                    partitions=args.partitions,
                    batch_events=args.latency_batch,
                    grace_ms=DetectionSettings().grace_ms,
                    split_stages=split,
                )
                key = "latency_at_half_load" + ("_stages_apart" if split else "")
                result[key] = lat.as_dict()
                print(
                    f"latency at {rate:,.0f} ev/s offered"
                    f"{' (one worker per stage)' if split else ''}: {lat.matched} alerts timed, "
                    f"p50 {lat.percentile(0.5)} s, p99 {lat.percentile(0.99)} s"
                )
        if args.two_workers:
            result["two_workers"] = _two_workers(broker, topics, tag, n, args)
        ratio = (done / hw_s) / (got / raw_s) if hw_s and raw_s and got else 0.0
        result["ratio_to_raw"] = round(ratio, 4)
        print(
            f"hydrawatch worker: {int(done):,} events in {hw_s:.1f}s "
            f"({done / hw_s:,.0f} ev/s), ratio to raw {ratio:.3f}, "
            f"peak RSS {peak_kb / 1024:,.0f} MB (at the end {end_kb / 1024:,.0f} MB), "
            f"{int(alerts)} alerts"
        )
    if args.memory:
        # The worker's peak RSS above is mostly interpreter, libraries and buffers; what
        # grows with the customer base is the state per account (a slope, no broker).
        mem = measure_memory(("light", "steady"), scale=0.5, echo=False)
        result["memory_per_active_account"] = mem
        print(
            "state RSS per 100k active accounts (slope; benchmarks/memory.py): "
            + ", ".join(f"{k} {v['rss_mb_per_100k_accounts']:,.0f} MB" for k, v in mem.items())
        )
    print(f"wrote {write_result('bench', result)}")


if __name__ == "__main__":
    main()
