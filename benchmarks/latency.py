"""Produce-to-alert latency at a fixed offered load (step 5 of ``make bench``).

Every alert is its own sentinel. An alert is emitted while the worker processes the
first event that completes its evidence in event time:

- an account-window alert (``ts_ms`` = window end) when its partition's watermark
  (newest event time - grace) reaches the window end;
- a linkage, campaign or entity alert (``ts_ms`` = the tick's time) when any event
  passes that time.

The producer here sends time-ordered batch envelopes at a fixed rate and records when
each message was sent and the newest event time it carried, so the message that
triggered each alert is known; latency = when the alert arrived on the alert topic -
when that message was sent. Both clocks are this machine's ``time.time()``.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.detectors.account_window import DETECTOR_NAME as _ACCOUNT_DETECTOR
from app.runtime.admin import ensure_topics
from app.tools.broker import TansuBroker
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.emit import iter_events
from app.tools.simulate.run import build
from app.tools.simulate.scenario import load_scenario

__all__ = ["LatencyResult", "measure_latency"]


@dataclass
class LatencyResult:
    offered_events_per_s: float
    achieved_events_per_s: float
    events: int
    alerts: int
    matched: int
    latencies_s: list[float] = field(default_factory=list)
    #: Distinct triggering messages: alerts of one tick share one trigger.
    triggers: set[tuple[int, int]] = field(default_factory=set)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_s:
            return None
        xs = sorted(self.latencies_s)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "offered_events_per_s": round(self.offered_events_per_s),
            "achieved_events_per_s": round(self.achieved_events_per_s),
            "events": self.events,
            "alerts": self.alerts,
            "alerts_matched_to_trigger": self.matched,
            "distinct_trigger_messages": len(self.triggers),
            "p50_s": r(self.percentile(0.50)),
            "p99_s": r(self.percentile(0.99)),
            "max_s": r(max(self.latencies_s) if self.latencies_s else None),
        }


class _AlertCollector(threading.Thread):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            fetch_max_wait_ms=20,  # the embedded broker holds a fetch for its full wait
        )
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for records in self.consumer.poll(timeout_ms=100).values():
                now = time.time()
                for r in records:
                    self.received.append((now, orjson.loads(r.value)))
        self.consumer.close()


def _wait_metrics(worker: WorkerProcess, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            worker.metrics()
            return
        time.sleep(0.2)
    raise TimeoutError(f"worker did not start in {timeout_s}s:\n{worker.log_tail()}")


def measure_latency(
    broker: TansuBroker,
    worker_env: dict[str, str],
    *,
    rate: float,
    scale: float,
    days: float,
    partitions: int,
    batch_events: int,
    grace_ms: int,
    timeout_s: float = 600.0,
    split_stages: bool = False,
) -> LatencyResult:
    """Offer a hydra stream at ``rate`` events/s to a fresh worker; time every alert.

    ``split_stages``: three workers in one group, one per stage (account, pivot,
    campaign), as ``deploy/``'s ``stages`` profile runs them, instead of one worker
    running every stage on one event loop.
    """
    from kafka import KafkaProducer

    tag = uuid.uuid4().hex[:8]
    topics = {
        "input": f"lat-{tag}.requests",
        "alerts": f"lat-{tag}.alerts",
        "dlq": f"lat-{tag}.dlq",
    }
    ensure_topics(broker.bootstrap, list(topics.values()), partitions=partitions)
    env = {
        **worker_env,
        "HYDRAWATCH_INPUT_TOPIC": topics["input"],
        "HYDRAWATCH_ALERT_TOPIC": topics["alerts"],
        "HYDRAWATCH_DLQ_TOPIC": topics["dlq"],
    }
    sim = build(load_scenario("hydra").with_overrides(days=days), scale=scale)
    # Pre-serialise so the producer loop only paces and sends.
    messages: list[tuple[int, bytes, int]] = []  # (partition, payload, newest ts)
    pending: dict[int, list[dict[str, Any]]] = {}
    n_events = 0
    for event, _plan, _campaign in iter_events(sim):
        n_events += 1
        p = zlib.crc32(event["account_id"].encode()) % partitions
        chunk = pending.setdefault(p, [])
        chunk.append(event)
        if len(chunk) >= batch_events:
            messages.append((p, orjson.dumps(chunk), chunk[-1]["ts_ms"]))
            del pending[p]
    for p, chunk in pending.items():
        messages.append((p, orjson.dumps(chunk), chunk[-1]["ts_ms"]))

    collector = _AlertCollector(broker.bootstrap, topics["alerts"])
    collector.start()
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap, linger_ms=0, max_request_size=8 * 1024 * 1024
    )
    sent_at: list[float] = []
    newest_ts: list[int] = []
    part_of: list[int] = []
    with contextlib.ExitStack() as stack:
        if split_stages:
            for stage in ("campaign", "pivot"):
                w = stack.enter_context(
                    WorkerProcess(
                        broker_url=broker.handle.url,
                        app_id=f"lat-{tag}",
                        env={**env, "HYDRAWATCH_STAGES": f'["{stage}"]'},
                    )
                )
                _wait_metrics(w)
            env = {**env, "HYDRAWATCH_STAGES": '["account"]'}
        worker = stack.enter_context(
            WorkerProcess(broker_url=broker.handle.url, app_id=f"lat-{tag}", env=env)
        )
        worker.wait_assigned(min_partitions=partitions, timeout_s=120)
        time.sleep(3.0 if split_stages else 0.0)  # the group settles after the last join
        t0 = time.monotonic()
        sent = 0
        for p, payload, ts in messages:
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
            sent_at.append(time.time())
            producer.send(topics["input"], value=payload, partition=p)
            newest_ts.append(ts)
            part_of.append(p)
            sent += batch_events
        producer.flush(timeout=60)
        produce_s = time.monotonic() - t0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if metric_value(worker.metrics(), "hydrawatch_events_consumed_total") >= n_events:
                break
            time.sleep(0.2)
        time.sleep(2.0)  # let the last alerts arrive
    producer.close()
    collector.stopping.set()
    collector.join(timeout=10)

    # Running maximum of event time per partition and overall, in send order.
    per_part: dict[int, tuple[list[int], list[float]]] = {}
    overall: tuple[list[int], list[float]] = ([], [])
    high_all = -1
    high: dict[int, int] = {}
    for when, ts, p in zip(sent_at, newest_ts, part_of, strict=True):
        if ts > high.get(p, -1):
            high[p] = ts
            xs, ws = per_part.setdefault(p, ([], []))
            xs.append(ts)
            ws.append(when)
        if ts > high_all:
            high_all = ts
            overall[0].append(ts)
            overall[1].append(when)
    result = LatencyResult(
        offered_events_per_s=rate,
        achieved_events_per_s=n_events / produce_s if produce_s else 0.0,
        events=n_events,
        alerts=len(collector.received),
        matched=0,
    )
    for arrived, alert in collector.received:
        if alert.get("entity_type") == "account" and _ACCOUNT_DETECTOR in alert["detectors"]:
            p = zlib.crc32(alert["entity_id"].encode()) % partitions
            xs, ws = per_part.get(p, ([], []))
            src = p
            i = bisect.bisect_left(xs, alert["ts_ms"] + grace_ms)  # first newest ts >= end+grace
        else:
            xs, ws = overall
            i = bisect.bisect_right(xs, alert["ts_ms"])  # first newest ts > tick time
            src = -1
        if i < len(xs):
            result.latencies_s.append(arrived - ws[i])
            result.matched += 1
            result.triggers.add((src, i))
    return result
