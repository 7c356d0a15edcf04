"""faust app: one agent per keyed stage, connected by internal topics.

```
llm.requests ─(account)─▶ account agent ─▶ <app_id>.observations ─(pivot)─▶ pivot agent
   (by account)             │  alerts, DLQ       (Q partitions)               │  entity alerts
                            ▼                                                 ▼
                      hydrawatch.alerts ◀── campaign agent ◀── <app_id>.links (1 partition)
```

Each agent decodes its batch, calls the pure stage objects of the partitions in it
(:mod:`app.stages`), produces one message per destination partition per batch, and
waits for the broker's acknowledgements before the batch's offsets are acked. A worker
runs the stages it is given (``--stages``); several workers share each stage's
partitions. Each stage checkpoints its own partitions with the input offsets they
include; a partition a worker takes is restored from its newest snapshot and the rest
of its input is read back before the agent resumes (no waiting for new traffic).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import ssl
import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import faust
from faust.types import TP

from app.broker.admin import security_kwargs
from app.config import Settings
from app.events import AlertEvent, DeadLetter
from app.metrics import Metrics
from app.stages.account import AccountStage
from app.stages.campaign import CampaignStage
from app.stages.ingest import decode_values
from app.stages.pivot import PivotStage
from app.stages.records import (
    LinkInput,
    PivotInput,
    decode_link_inputs,
    decode_pivot_inputs,
    encode_link_inputs,
    encode_pivot_inputs,
    split_link_input,
    split_pivot_input,
)
from app.stream.checkpoint import CheckpointStore
from app.stream.idle import idle_partitions
from app.stream.readback import Record, read_back

__all__ = ["SNAPSHOT_VERSION", "STAGES", "StageHost", "create_app", "credentials_for"]

log = logging.getLogger("hydrawatch.stream")

#: Bumped whenever a stage's pickled layout changes; older snapshots are ignored.
SNAPSHOT_VERSION = 9
STAGES = ("account", "pivot", "campaign")
_MAX_OBS_PER_RECORD = 20_000
_MAX_LINKS_PER_RECORD = 10_000

S = TypeVar("S")


def credentials_for(settings: Settings) -> Any:
    """faust broker credentials for the configured SASL/TLS, or None for PLAINTEXT."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return None
    ctx = None
    if proto in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
    if proto.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=(
                settings.sasl_password.get_secret_value()
                if settings.sasl_password is not None
                else None
            ),
            mechanism=settings.effective_sasl_mechanism,
            ssl_context=ctx,
        )
    return faust.SSLCredentials(ctx)


class StageHost(Generic[S]):
    """One stage's partitions on this worker: state objects and applied input offsets."""

    def __init__(self, name: str, topic: str, factory: Callable[[int], S]) -> None:
        self.name = name
        self.topic = topic
        self.factory = factory
        self.stages: dict[int, S] = {}
        #: partition → offset of the next input message not yet applied
        self.next_offset: dict[int, int] = {}
        self.unpublished = False
        #: applied something since its last snapshot
        self.dirty = False

    def get(self, partition: int) -> S:
        st = self.stages.get(partition)
        if st is None:
            st = self.stages[partition] = self.factory(partition)
        return st

    def keep(self, partition: int, offset: int) -> bool:
        """Is this message new to the state (and mark it applied)?"""
        if offset < self.next_offset.get(partition, 0):
            return False
        self.next_offset[partition] = offset + 1
        self.dirty = True
        return True

    def snapshot(self) -> bytes:
        return pickle.dumps(
            {"version": SNAPSHOT_VERSION, "stage": self.name, "stages": self.stages},
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, blob: bytes, partitions: list[int], offsets: dict[int, int]) -> list[int]:
        snap = pickle.loads(blob)
        if (
            not isinstance(snap, dict)
            or snap.get("version") != SNAPSHOT_VERSION
            or snap.get("stage") != self.name
        ):
            return []
        done = []
        for p in partitions:
            if p in snap["stages"] and p in offsets:
                self.stages[p] = snap["stages"][p]
                self.next_offset[p] = offsets[p]
                done.append(p)
        return done

    def drop(self, partitions: list[int]) -> None:
        for p in partitions:
            self.stages.pop(p, None)
            self.next_offset.pop(p, None)


def _dlq_headers(
    letter: DeadLetter, partition: int, offset: int, input_topic: str
) -> list[tuple[str, bytes]]:
    return [
        ("hydrawatch-reason", letter.reason.encode()),
        ("hydrawatch-detail", letter.detail.encode()),
        ("hydrawatch-source-topic", input_topic.encode()),
        ("hydrawatch-source-partition", str(partition).encode()),
        ("hydrawatch-source-offset", str(offset).encode()),
        ("hydrawatch-source-index", b"" if letter.index is None else str(letter.index).encode()),
    ]


def create_app(settings: Settings, metrics: Metrics, *, stages: tuple[str, ...] = STAGES) -> Any:
    """Build the faust app with the agents of ``stages``."""
    unknown = set(stages) - set(STAGES)
    if unknown or not stages:
        raise ValueError(f"stages must be some of {', '.join(STAGES)}; got {stages}")
    det = settings.detection
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=credentials_for(settings),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        web_host="127.0.0.1",
        web_port=settings.web_port,
        datadir=settings.datadir,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
        producer_max_batch_size=256 * 1024,
        producer_max_request_size=16 * 1024 * 1024,
        stream_buffer_maxsize=settings.stream_buffer_max_messages,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    input_topic = app.topic(settings.input_topic, **raw)
    obs_topic = app.topic(settings.observations_topic, **raw)
    links_topic = app.topic(settings.links_topic, **raw)
    alerts_topic = app.topic(settings.alert_topic, **raw)
    dlq_topic = app.topic(settings.dlq_topic, **raw)
    kw = security_kwargs(settings)

    n_input = settings.topic_partitions
    hosts: dict[str, StageHost[Any]] = {}
    if "account" in stages:
        hosts["account"] = StageHost(
            "account",
            settings.input_topic,
            lambda p: AccountStage(det, partition=p, pivot_partitions=det.pivot_partitions),
        )
    if "pivot" in stages:
        hosts["pivot"] = StageHost(
            "pivot",
            settings.observations_topic,
            lambda q: PivotStage(det, partition=q, upstream_partitions=n_input),
        )
    if "campaign" in stages:
        hosts["campaign"] = StageHost(
            "campaign",
            settings.links_topic,
            lambda _: CampaignStage(det, upstream_partitions=det.pivot_partitions),
        )
    stores: dict[str, CheckpointStore] = {}
    if settings.checkpoint_interval_s > 0:
        for name, h in hosts.items():
            stores[name] = CheckpointStore(
                settings.bootstrap_servers,
                settings.checkpoint_topic,
                owner=f"{settings.app_id}-{name}-{os.getpid()}",
                source=h.topic,
                client_kwargs=kw,
            )
    #: Held while a batch is applied and its output published, and while state is
    #: snapshotted or restored: a snapshot never includes unpublished output.
    lock = asyncio.Lock()
    status = {"last_checkpoint": time.monotonic()}
    #: input partition → wall time of its last message (the idle rule)
    last_input: dict[int, float] = {}

    # Encoding is synchronous and done before any send, so a stage's CPU figure (taken
    # on this thread around its synchronous work only) never includes what other
    # coroutines did while a send awaited.
    def encode_alerts(alerts: list[AlertEvent]) -> list[tuple[bytes, bytes]]:
        for (etype, sev), n in Tally((a.entity_type, a.severity) for a in alerts).items():
            metrics.alerts_emitted.labels(entity_type=etype, severity=sev).inc(n)
        return [(a.entity_id.encode(), a.model_dump_json().encode()) for a in alerts]

    async def publish_alerts(encoded: list[tuple[bytes, bytes]], pending: list[Any]) -> None:
        for key, value in encoded:
            pending.append(await alerts_topic.send(key=key, value=value))

    def encode_pivot_records(records: dict[int, list[PivotInput]]) -> list[tuple[int, bytes]]:
        out = []
        for q in sorted(records):
            chunks = [
                c for r in records[q] for c in split_pivot_input(r, max_obs=_MAX_OBS_PER_RECORD)
            ]
            # one message per destination partition (more only past the size limit)
            for i in range(0, len(chunks), 4):
                value = encode_pivot_inputs(chunks[i : i + 4])
                metrics.internal_bytes.labels(topic="observations").inc(len(value))
                out.append((q, value))
        return out

    async def send_pivot_records(encoded: list[tuple[int, bytes]], pending: list[Any]) -> None:
        for q, value in encoded:
            pending.append(await obs_topic.send(value=value, partition=q))

    # ---- account stage ---------------------------------------------------------------
    async def apply_input(msgs: list[tuple[bytes | None, bytes | None, int, int]]) -> None:
        """``(key, value, partition, offset)`` input messages, in partition order."""
        host = hosts["account"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if len(keep) < len(msgs):
            metrics.messages_skipped.inc(len(msgs) - len(keep))
        if not keep:
            return
        host.unpublished = True
        t0 = time.perf_counter()
        c0 = time.thread_time()
        now_ms = time.time_ns() // 1_000_000
        ing = decode_values(
            [m[1] for m in keep],
            max_message_bytes=settings.max_message_bytes,
            max_batch_events=settings.max_batch_events,
            max_dead_letter_bytes=settings.max_dead_letter_bytes,
            max_future_skew_ms=settings.max_future_skew_ms,
            now_ms=now_ms,
        )
        by_part: dict[int, list[Any]] = {}
        for m, events in zip(keep, ing.events, strict=True):
            by_part.setdefault(m[2], []).extend(events)
            last_input[m[2]] = time.monotonic()
        alerts: list[AlertEvent] = []
        records: dict[int, list[PivotInput]] = {}
        accepted = late = dups = closed = 0
        for p, events in by_part.items():
            out = host.get(p).process(events, emitted_ms=now_ms)
            alerts += out.alerts
            accepted += out.accepted
            late += out.late
            dups += out.duplicates
            closed += out.windows_closed
            for q, rec in out.pivot_inputs.items():
                records.setdefault(q, []).append(rec)
            if out.scores:
                hist = metrics.window_scores.labels(entity_type="account")
                for s in out.scores:
                    hist.observe(s)
        obs_values = encode_pivot_records(records)
        alert_values = encode_alerts(alerts)
        metrics.stage_cpu_seconds.labels(stage="account").inc(time.thread_time() - c0)
        pending: list[Any] = []
        await send_pivot_records(obs_values, pending)
        await publish_alerts(alert_values, pending)
        metrics.stage_records.labels(stage="account").inc(accepted + late + dups)
        for dead in ing.dead:
            key, _, part, off = keep[dead.message_index]
            pending.append(
                await dlq_topic.send(
                    key=key,
                    value=dead.letter.raw,
                    headers=_dlq_headers(dead.letter, part, off, settings.input_topic),
                )
            )
        for fut in pending:  # broker acks before the batch's offsets are acked
            await fut
        host.unpublished = False
        mt = metrics
        mt.messages_consumed.inc(len(keep))
        mt.events_consumed.inc(accepted + late)
        if late:
            mt.events_late.inc(late)
        if dups:
            mt.events_duplicate.inc(dups)
        if ing.raw_text_dropped:
            mt.raw_text_dropped.inc(ing.raw_text_dropped)
        if ing.dead:
            mt.dead_letters_published.inc(len(ing.dead))
            for reason, n in Tally(d.letter.reason for d in ing.dead).items():
                mt.events_invalid.labels(reason=reason).inc(n)
        if closed:
            mt.windows_closed.labels(entity_type="account").inc(closed)
        mt.batch_events.observe(accepted + late)
        mt.last_batch_timestamp.set(time.time())
        for p in by_part:
            mt.input_position.labels(partition=str(p)).set(host.next_offset[p])
        wms = [s.watermark_ms for s in host.stages.values() if s.watermark_ms is not None]
        if wms:
            mt.watermark_seconds.set(min(wms) / 1000.0)
            mt.event_time_lag_seconds.set((now_ms - max(wms)) / 1000.0)
        mt.open_windows.labels(entity_type="account").set(
            sum(s.windows.open_windows for s in host.stages.values())
        )
        mt.tracked_entities.labels(kind="accounts").set(
            sum(len(s.accounts) for s in host.stages.values())
        )
        mt.batch_processing_seconds.observe(time.perf_counter() - t0)

    # ---- pivot stage -----------------------------------------------------------------
    async def apply_observations(msgs: list[tuple[bytes | None, bytes | None, int, int]]) -> None:
        host = hosts["pivot"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if not keep:
            return
        host.unpublished = True
        c0 = time.thread_time()
        now_ms = time.time_ns() // 1_000_000
        touched: set[int] = set()
        n_obs = 0
        for _, value, q, _ in keep:
            stage = host.get(q)
            for rec in decode_pivot_inputs(value or b"[]"):
                stage.receive(rec)
                n_obs += len(rec.obs)
            touched.add(q)
        alerts: list[AlertEvent] = []
        links: list[LinkInput] = []
        for q in sorted(touched):
            out = host.get(q).advance(emitted_ms=now_ms)
            alerts += out.alerts
            if out.late:
                metrics.events_late.inc(out.late)
            if out.links is not None:
                links += split_link_input(out.links, max_links=_MAX_LINKS_PER_RECORD)
        link_values = []
        for i in range(0, len(links), 8):
            value = encode_link_inputs(links[i : i + 8])
            metrics.internal_bytes.labels(topic="links").inc(len(value))
            link_values.append(value)
        alert_values = encode_alerts(alerts)
        metrics.stage_cpu_seconds.labels(stage="pivot").inc(time.thread_time() - c0)
        pending: list[Any] = []
        for value in link_values:
            pending.append(await links_topic.send(value=value, partition=0))
        await publish_alerts(alert_values, pending)
        metrics.stage_records.labels(stage="pivot").inc(n_obs)
        clocks = [s.clock.now_ms for s in host.stages.values() if s.clock.now_ms is not None]
        if clocks:
            metrics.stage_clock_seconds.labels(stage="pivot").set(min(clocks) / 1000.0)
        for fut in pending:
            await fut
        host.unpublished = False
        for kind in ("pivots", "solo_indicators"):
            metrics.tracked_entities.labels(kind=kind).set(
                sum(s.sizes()[kind] for s in host.stages.values())
            )

    # ---- campaign stage --------------------------------------------------------------
    async def apply_links(msgs: list[tuple[bytes | None, bytes | None, int, int]]) -> None:
        host = hosts["campaign"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if not keep:
            return
        host.unpublished = True
        c0 = time.thread_time()
        now_ms = time.time_ns() // 1_000_000
        stage: CampaignStage = host.get(0)
        n_links = 0
        for _, value, _, _ in keep:
            for rec in decode_link_inputs(value or b"[]"):
                stage.receive(rec)
                n_links += sum(len(t.links) for t in rec.ticks)
        out = stage.advance(emitted_ms=now_ms)
        alert_values = encode_alerts(out.alerts)
        metrics.stage_cpu_seconds.labels(stage="campaign").inc(time.thread_time() - c0)
        pending: list[Any] = []
        await publish_alerts(alert_values, pending)
        metrics.stage_records.labels(stage="campaign").inc(n_links)
        if out.clock_ms is not None:
            metrics.stage_clock_seconds.labels(stage="campaign").set(out.clock_ms / 1000.0)
        for fut in pending:
            await fut
        host.unpublished = False
        if out.clock_ms is not None:
            metrics.campaigns_active.set(stage.active_campaigns(out.clock_ms))

    appliers = {"account": apply_input, "pivot": apply_observations, "campaign": apply_links}

    async def checkpoint(reason: str) -> None:
        for name, host in hosts.items():
            store = stores.get(name)
            if store is None or not host.stages or host.unpublished or not host.dirty:
                continue
            t0 = time.perf_counter()
            try:
                sink = store.compressor()
                sink.write(host.snapshot())  # in the loop: consistent with the offsets
                offsets = {p: host.next_offset.get(p, 0) for p in host.stages}
                sid, size = await asyncio.to_thread(store.write, offsets, sink)
            except Exception as exc:  # a failed snapshot is retried, never fatal
                metrics.checkpoint_failures.inc()
                log.warning("checkpoint of %s (%s) failed: %s", name, reason, exc)
                continue
            host.dirty = False
            metrics.checkpoints_written.inc()
            metrics.checkpoint_bytes.set(size)
            metrics.checkpoint_seconds.observe(time.perf_counter() - t0)
            log.info("checkpoint %s of %s (%s): %d bytes", sid, name, reason, size)
        status["last_checkpoint"] = time.monotonic()

    async def maybe_checkpoint() -> None:
        if (
            stores
            and time.monotonic() - status["last_checkpoint"] >= settings.checkpoint_interval_s
        ):
            await checkpoint("interval")

    #: stage → the task restoring and reading back its newly assigned partitions: the
    #: agent applies nothing of a stage before that is done
    taking: dict[str, asyncio.Task[None]] = {}

    def make_agent(name: str, topic: Any) -> None:
        apply = appliers[name]

        async def agent(stream: Any) -> None:
            async for batch in stream.take_events(
                settings.batch_max_messages, within=settings.batch_within_s
            ):
                task = taking.get(name)
                if task is not None:
                    await task
                msgs = [
                    (ev.message.key, ev.value, ev.message.partition, ev.message.offset)
                    for ev in batch
                ]
                msgs.sort(key=lambda m: (m[2], m[3]))
                async with lock:
                    step = 256
                    for i in range(0, len(msgs), step):
                        await apply(msgs[i : i + step])
                        await asyncio.sleep(0)  # heartbeats between steps
                    await maybe_checkpoint()
                if name == "account":
                    report_lag({ev.message.tp for ev in batch})

        app.agent(topic, name=f"hydrawatch.{name}")(agent)

    topics = {"account": input_topic, "pivot": obs_topic, "campaign": links_topic}
    for name in hosts:
        make_agent(name, topics[name])

    caught_up: set[int] = set()

    def report_lag(tps: set[Any]) -> None:
        consumer = app.consumer
        host = hosts["account"]
        for tp in tps:
            high = consumer.highwater(tp)
            nxt = host.next_offset.get(tp.partition)
            if high is not None and nxt is not None:
                lag = max(0, high - nxt)
                metrics.input_lag_messages.labels(partition=str(tp.partition)).set(lag)
                if lag == 0:
                    caught_up.add(tp.partition)
                else:
                    caught_up.discard(tp.partition)

    if "account" in hosts:

        @app.timer(interval=max(0.5, settings.idle_after_s / 4))
        async def idle_marks() -> None:
            """Caught-up input partitions quiet for ``idle_after_s`` are declared idle."""
            host = hosts["account"]
            records: dict[int, list[PivotInput]] = {}
            async with lock:
                task = taking.get("account")
                idle = idle_partitions(
                    host.stages,
                    now=time.monotonic(),
                    idle_after_s=settings.idle_after_s,
                    restoring=task is not None and not task.done(),
                    quiet_since=last_input,
                    applied_to=host.next_offset,
                    highwater=lambda p: app.consumer.highwater(TP(settings.input_topic, p)),
                )
                for p in idle:
                    for q, rec in host.stages[p].idle_records().items():
                        records.setdefault(q, []).append(rec)
                if records:
                    pending: list[Any] = []
                    await send_pivot_records(encode_pivot_records(records), pending)
                    for fut in pending:
                        await fut

    async def _after(previous: asyncio.Task[None] | None, then: Any) -> None:
        if previous is not None:
            await previous
        await then

    async def take(name: str, partitions: list[int]) -> None:
        """Restore ``partitions`` of a stage and read back what their state lacks.

        The stage's own agent waits for this; the lock is held per restore and per
        read-back chunk only, so the other stages go on meanwhile.
        """
        async with lock:
            starts = await _restore(name, partitions)
        host = hosts[name]
        gen = read_back(
            settings.bootstrap_servers,
            host.topic,
            starts,
            timeout_s=600,
            max_fetch_bytes=settings.max_message_bytes + 1024,
            client_kwargs=kw,
        )
        sentinel: tuple[int, list[Record]] = (-1, [])
        n = 0
        while True:
            p, records = await asyncio.to_thread(next, gen, sentinel)
            if p < 0:
                break
            if not records:
                continue
            if n == 0:
                log.info("%s: reading back partitions %s from %s", name, sorted(starts), starts)
            n += len(records)
            async with lock:
                await appliers[name]([(k, v, p, o) for k, v, o in records])
                await maybe_checkpoint()  # a long read-back is checkpointed as it goes
        if n:
            metrics.messages_replayed.inc(n)
            log.info("%s: read back %d messages", name, n)
        if name == "account":
            for p in partitions:
                metrics.input_position.labels(partition=str(p)).set(host.next_offset[p])

    async def _restore(name: str, partitions: list[int]) -> dict[int, int]:
        """Adopt the newest snapshots of ``partitions``; their offsets to read back from."""
        host = hosts[name]
        store = stores.get(name)
        if store is not None:
            try:
                latest = await asyncio.to_thread(store.latest)
            except Exception as exc:
                log.error("could not read checkpoints of %s: %s", name, exc)
                latest = {}
            by_snapshot: dict[str, list[int]] = {}
            for p in partitions:
                if p in latest:
                    by_snapshot.setdefault(latest[p].snapshot_id, []).append(p)
            for sid, parts in by_snapshot.items():
                snap = latest[parts[0]]
                try:
                    done = host.restore(CheckpointStore.state_of(snap), parts, dict(snap.offsets))
                except Exception as exc:  # never a crash: rebuilt from the input
                    log.error("checkpoint %s unreadable, rebuilding %s: %r", sid, parts, exc)
                    metrics.checkpoint_failures.inc()
                    continue
                metrics.state_restored.inc(len(done))
                log.info("%s: restored partitions %s from checkpoint %s", name, done, sid)
        starts = {}
        for p in partitions:
            if p not in host.stages:
                host.get(p)
            starts[p] = host.next_offset.setdefault(p, 0)
        return starts

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        async with lock:  # hand over fresh state to whoever gets these partitions
            await checkpoint("revoked")

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        async with lock:
            for name, host in hosts.items():
                mine = sorted(tp.partition for tp in assigned if tp.topic == host.topic)
                gone = [p for p in host.stages if p not in mine]
                host.drop(gone)
                new = [p for p in mine if p not in host.stages]
                if new:
                    # in the background, so the group's heartbeats go on; the stage's
                    # agent waits for it (nothing is applied before the read-back)
                    taking[name] = asyncio.ensure_future(_after(taking.get(name), take(name, new)))
                if name == "account":
                    metrics.assigned_partitions.set(len(mine))
                    for p in gone:
                        caught_up.discard(p)
                        last_input.pop(p, None)
                    for p in new:  # the quiet time of a partition starts when it is taken
                        last_input[p] = time.monotonic()

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, **_: Any) -> None:
        async with lock:
            await checkpoint("shutdown")
        for store in stores.values():
            await asyncio.to_thread(store.close)

    @app.task
    async def mark_up() -> None:
        metrics.worker_up.set(1)

    app.hydrawatch_hosts = hosts
    return app
