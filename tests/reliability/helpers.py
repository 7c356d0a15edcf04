"""Shared pieces of the fault-injection tests: traffic, runs to completion, alert reads."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from app.runtime.admin import ensure_topics
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.basic import BasicTraffic, generate_basic
from tests.conftest import PARTITIONS
from tests.integration.helpers import partition_for, produce_batches

__all__ = [
    "BATCH",
    "TRAFFIC",
    "ObservationLog",
    "Run",
    "alert_ids",
    "closed_traffic",
    "final_clock_ms",
    "id_diff",
    "offline_reference",
    "per_partition_messages",
    "produce_traffic",
    "read_all",
    "read_observations",
    "wait_campaign_clock",
    "wait_for",
    "wait_position",
    "wait_settled",
]

#: ~65k events over 8 h: 400 benign accounts, 6 abusive ones from hour 3.
TRAFFIC = BasicTraffic(
    benign_accounts=400,
    abusive_accounts=6,
    duration_ms=8 * 3_600_000,
    abuse_start_offset_ms=3 * 3_600_000,
    seed=5,
)
BATCH = 200


def produce_traffic(
    bootstrap: str, topic: str, *, partitions: int = PARTITIONS
) -> tuple[list[dict[str, Any]], int]:
    """Produce TRAFFIC as batch envelopes; returns (events, number of messages)."""
    events = generate_basic(TRAFFIC)
    produce_batches(bootstrap, topic, events, partitions=partitions, batch_size=BATCH)
    return events, sum(per_partition_messages(events, partitions=partitions).values())


def per_partition_messages(
    events: list[dict[str, Any]], *, partitions: int = PARTITIONS, batch: int = BATCH
) -> dict[int, int]:
    """Input messages per partition once ``events`` are produced ``batch`` to a message."""
    per_part: dict[int, int] = {}
    for e in events:
        p = partition_for(e["account_id"], partitions)
        per_part[p] = per_part.get(p, 0) + 1
    return {p: -(-n // batch) for p, n in sorted(per_part.items())}


def closed_traffic(
    events: list[dict[str, Any]], *, partitions: int = PARTITIONS
) -> tuple[list[dict[str, Any]], int]:
    """``events`` followed by closing sentinels 3 h past the newest (so every online stage
    clock passes the traffic, as the offline run's final flush does), and the event time
    up to which online and offline alerts are comparable (newest event + 1 h)."""
    from app.core.settings import DetectionSettings
    from app.tools.evaluate.invariance import closing_sentinels

    newest = max(e["ts_ms"] for e in events)
    sentinels = closing_sentinels(
        partitions=partitions,
        after_ms=newest + 3 * 3_600_000,
        rank=DetectionSettings().watermark_rank,
        partition_of=lambda a: partition_for(a, partitions),
    )
    return [*events, *sentinels], newest + 3_600_000


def offline_reference(
    events: list[dict[str, Any]], path: Path, *, until_ms: int, partitions: int = PARTITIONS
) -> tuple[set[str], int]:
    """``hydrawatch detect`` over ``events`` (the same stages in-process, no broker, no
    fault): its alert ids up to event time ``until_ms``, and the number of requests its
    account stages applied up to ``until_ms`` (each applied event once: see
    :class:`ObservationLog`)."""
    from app.core.settings import DetectionSettings
    from app.tools.offline import detect_file

    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    ids: set[str] = set()
    summary = detect_file(
        str(path),
        settings=DetectionSettings(),
        on_alert=lambda a: ids.add(a.alert_id) if a.ts_ms <= until_ms else None,
        partitions=partitions,
    )
    return ids, sum(n for end, n in summary.observed_requests.items() if end <= until_ms)


@dataclass
class ObservationLog:
    """What a run's account stages sent to its pivot stages (the observations topic)."""

    #: observations the final account state sent, as its last record per (account
    #: partition, pivot partition) numbers them: a message applied to the final state once
    #: counts once, a lost one is missing, whatever was re-sent
    sent: int = 0
    #: (account partition, 10-minute bucket end) → requests applied there, from the
    #: population rows (pivot partition 0): a re-sent row replaces the earlier one, so
    #: what remains is what the final account state counted
    population: dict[tuple[int, int], int] = field(default_factory=dict)
    #: idle marks (an account partition declared idle)
    idle_marks: int = 0
    #: observations that followed an idle mark of their partition and were numbered past
    #: it: the partition was declared idle with data still to come. Where all the input
    #: was produced before any worker started, that is data in flight at the mark.
    after_idle: list[str] = field(default_factory=list)

    def requests_until(self, until_ms: int) -> int:
        """Requests the final account state applied, in buckets ending by ``until_ms``:
        every event applied once counts once, whatever was re-sent."""
        return sum(n for (_, end), n in self.population.items() if end <= until_ms)


def read_observations(bootstrap: str, run: Run) -> ObservationLog:
    """Read ``run``'s observations topic, each partition in offset order."""
    from app.core.campaigns.values import F_REQ
    from app.core.stages.records import decode_pivot_inputs
    from app.core.windows.sliding import TEN_MIN_MS

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50
    )
    log = ObservationLog()
    ends: dict[tuple[int, int], int] = {}
    idle_at: dict[tuple[int, int], int] = {}
    try:
        topic = f"{run.app_id}.observations"
        tps = [TopicPartition(topic, q) for q in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        # to each partition's fetch high-water mark (the embedded broker's ListOffsets
        # is wrong for multi-record batches), or until nothing came for 2 s
        while time.monotonic() - quiet_since < 2.0:
            for records in consumer.poll(timeout_ms=200).values():
                quiet_since = time.monotonic()
                for r in records:
                    for rec in decode_pivot_inputs(r.value):
                        key = (rec.source, r.partition)
                        end = rec.first_seq + len(rec.obs)
                        ends[key] = end
                        for row in rec.totals:  # [bucket start, sums...]
                            where = (rec.source, row[0] + TEN_MIN_MS)
                            log.population[where] = row[1 + F_REQ]
                        if rec.idle:
                            log.idle_marks += 1
                            idle_at[key] = max(idle_at.get(key, 0), rec.first_seq)
                        elif rec.obs and end > idle_at.get(key, end):
                            log.after_idle.append(
                                f"account partition {rec.source} idle at observation "
                                f"{idle_at[key]} of pivot partition {r.partition}, then sent "
                                f"{rec.first_seq}..{end} (offset {r.offset})"
                            )
            highs = [(tp, consumer.highwater(tp)) for tp in tps]
            if all(h is not None and consumer.position(tp) >= h for tp, h in highs):
                break
    finally:
        consumer.close()
    log.sent = sum(ends.values())
    return log


def id_diff(name: str, ref: set[str], got: set[str]) -> str:
    """Empty if equal, else which alert ids are missing from / extra in ``got``."""
    missing, extra = sorted(ref - got), sorted(got - ref)
    if not missing and not extra:
        return ""
    return (
        f"{name}: {len(got)} alert ids, reference {len(ref)}; missing {len(missing)} "
        f"{missing[:10]}, extra {len(extra)} {extra[:10]}"
    )


def wait_for(
    check: Callable[[], bool], *, timeout_s: float, what: str, log: Callable[[], str] = str
) -> float:
    """Poll ``check`` until true; returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        with contextlib.suppress(OSError):
            if check():
                return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{log()}")


def position(w: WorkerProcess) -> float:
    return metric_value(w.metrics(), "hydrawatch_input_position")


def wait_position(w: WorkerProcess, messages: int, *, timeout_s: float = 120) -> float:
    """Wait until the worker's applied offsets cover all ``messages`` and its downstream
    stages (pivot, campaign) have applied everything that produced."""
    waited = wait_for(
        lambda: position(w) >= messages,
        timeout_s=timeout_s,
        what=f"input position {messages}",
        log=w.log_tail,
    )
    return waited + wait_settled([w], timeout_s=timeout_s)


def final_clock_ms(events: list[dict[str, Any]], *, partitions: int = PARTITIONS) -> int:
    """The event time the downstream clocks reach once ``events`` are all applied: the
    minimum over partitions of each one's watermark (k-th newest event - grace)."""
    from app.core.settings import DetectionSettings

    s = DetectionSettings()
    by_p: dict[int, list[int]] = {}
    for e in events:
        by_p.setdefault(partition_for(e["account_id"], partitions), []).append(e["ts_ms"])
    return min(sorted(ts)[-s.watermark_rank] for ts in by_p.values()) - s.grace_ms


def wait_campaign_clock(w: WorkerProcess, until_ms: int, *, timeout_s: float = 300) -> float:
    """Wait until the campaign stage of ``w`` has handled every tick up to ``until_ms``."""
    return wait_for(
        lambda: (
            metric_value(w.metrics(), "hydrawatch_stage_clock_seconds", stage="campaign") * 1000
            >= until_ms
        ),
        timeout_s=timeout_s,
        what=f"the campaign stage's clock at {until_ms}",
        log=w.log_tail,
    )


def wait_settled(
    workers: list[WorkerProcess], *, timeout_s: float = 120, quiet_s: float = 3.0
) -> float:
    """Wait until no stage of ``workers`` applied anything for ``quiet_s``."""
    t0 = time.monotonic()
    last = -1.0
    since = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        with contextlib.suppress(OSError):
            n = sum(metric_value(w.metrics(), "hydrawatch_stage_records_total") for w in workers)
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError(f"stages still busy after {timeout_s}s\n{workers[0].log_tail()}")


def read_all(bootstrap: str, topic: str, *, settle_s: float = 3.0) -> list[dict[str, Any]]:
    """Every record of ``topic`` (all partitions), once nothing new came for ``settle_s``."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50
    )
    out: list[dict[str, Any]] = []
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle_s:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                out.extend(orjson.loads(r.value) for r in records)
                quiet_since = time.monotonic()
    finally:
        consumer.close()
    return out


def alert_ids(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["alert_id"] for a in alerts}


@dataclass
class Run:
    """One consumer group (app id) with its own alert and DLQ topics over a shared input."""

    broker_url: str
    bootstrap: str
    input_topic: str
    partitions: int = PARTITIONS
    env: dict[str, str] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        ensure_topics(self.bootstrap, [self.alerts, self.dlq], partitions=self.partitions)

    @property
    def app_id(self) -> str:
        return f"rel-{self.tag}"

    @property
    def alerts(self) -> str:
        return f"rel-{self.tag}.alerts"

    @property
    def dlq(self) -> str:
        return f"rel-{self.tag}.dlq"

    def worker(self, **env: str) -> WorkerProcess:
        w = WorkerProcess(
            broker_url=self.broker_url,
            app_id=self.app_id,
            env={
                "HYDRAWATCH_INPUT_TOPIC": self.input_topic,
                "HYDRAWATCH_ALERT_TOPIC": self.alerts,
                "HYDRAWATCH_DLQ_TOPIC": self.dlq,
                "HYDRAWATCH_TOPIC_PARTITIONS": str(self.partitions),
                "HYDRAWATCH_CHECKPOINT_INTERVAL_S": "1",
                "HYDRAWATCH_MAX_FUTURE_SKEW_MS": "none",
                **self.env,
                **env,
            },
        )
        self.workers.append(w.start())
        return w

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()

    def read_alerts(self, *, settle_s: float = 3.0) -> list[dict[str, Any]]:
        return read_all(self.bootstrap, self.alerts, settle_s=settle_s)
