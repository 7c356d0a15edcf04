"""faust app factory: input topic → batched ingest agent → alert and dead-letter topics.

The agent consumes batches (``take_events``), hands the message values to the
pure :class:`~app.pipeline.Pipeline`, publishes its alerts and dead letters and
waits for the broker's acknowledgements before the batch's offsets are acked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

import faust

from app.broker.admin import read_partition, security_kwargs
from app.config import Settings
from app.events import DeadLetter
from app.metrics import Metrics
from app.pipeline import Pipeline, PipelineOutput
from app.stream.checkpoint import CheckpointStore

__all__ = ["create_app", "credentials_for", "read_range", "steps_of"]

log = logging.getLogger("hydrawatch.stream")

_AGENT_NAME = "hydrawatch.ingest"


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
            mechanism=settings.sasl_mechanism or "PLAIN",
            ssl_context=ctx,
        )
    return faust.SSLCredentials(ctx)


def _dlq_headers(
    letter: DeadLetter, source: tuple[bytes | None, int, int], input_topic: str
) -> list[tuple[str, bytes]]:
    _, partition, offset = source
    return [
        ("hydrawatch-reason", letter.reason.encode()),
        ("hydrawatch-detail", letter.detail.encode()),
        ("hydrawatch-source-topic", input_topic.encode()),
        ("hydrawatch-source-partition", str(partition).encode()),
        ("hydrawatch-source-offset", str(offset).encode()),
        ("hydrawatch-source-index", b"" if letter.index is None else str(letter.index).encode()),
    ]


def steps_of(batch: Sequence[Any], *, max_bytes: int) -> list[list[Any]]:
    """Cut a consumed batch into steps of at most ``max_bytes`` of message values.

    A batch holds each partition's messages in a block; the steps take the partitions
    in turn (each partition's messages in order), so every step moves all partitions
    forward together instead of one partition hours ahead of the others.

    >>> from types import SimpleNamespace as NS
    >>> b = [NS(value=b"xx", message=NS(partition=p)) for p in (0, 0, 0, 1, 1)]
    >>> [[e.message.partition for e in s] for s in steps_of(b, max_bytes=4)]
    [[0, 1], [0, 1], [0]]
    """
    queues: dict[int, list[Any]] = {}
    for event in batch:
        queues.setdefault(event.message.partition, []).append(event)
    interleaved = [e for round_ in zip_longest(*queues.values()) for e in round_ if e is not None]
    steps: list[list[Any]] = []
    size = 0
    for event in interleaved:
        n = len(event.value or b"")
        if not steps or (size + n > max_bytes and steps[-1]):
            steps.append([])
            size = 0
        steps[-1].append(event)
        size += n
    return steps


def read_range(
    settings: Settings, partition: int, start: int, end: int, *, timeout_s: float = 60.0
) -> list[tuple[bytes | None, bytes | None, int]]:
    """(key, value, offset) of the input messages ``start <= offset < end`` (blocking)."""
    return [
        (r.key, r.value, r.offset)
        for r in read_partition(
            settings.bootstrap_servers,
            settings.input_topic,
            partition,
            start=start,
            end=end,
            timeout_s=timeout_s,
            max_fetch_bytes=settings.max_message_bytes + 1024,
            client_kwargs=security_kwargs(settings),
        )
    ]


def create_app(settings: Settings, metrics: Metrics, *, pipeline: Pipeline | None = None) -> Any:
    """Build the faust app with its topics and agent."""
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
        stream_buffer_maxsize=settings.stream_buffer_max_messages,
    )
    source = app.topic(settings.input_topic, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(settings.alert_topic, key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")
    core = pipeline if pipeline is not None else Pipeline(settings, metrics)
    store: CheckpointStore | None = None
    if settings.checkpoint_interval_s > 0:
        store = CheckpointStore(
            settings.bootstrap_servers,
            settings.checkpoint_topic,
            owner=f"{settings.app_id}-{os.getpid()}",
            source=settings.input_topic,
            client_kwargs=security_kwargs(settings),
        )
    #: Held while a batch is applied and its output published, and while the state is
    #: snapshotted or restored: a snapshot never includes unpublished alerts.
    lock = asyncio.Lock()
    status = {"unpublished": False, "last_checkpoint": time.monotonic()}

    async def publish(out: PipelineOutput, sources: list[tuple[bytes | None, int, int]]) -> None:
        pending = []
        for alert in out.alerts:
            pending.append(
                await alerts_topic.send(
                    key=alert.entity_id.encode(), value=alert.model_dump_json().encode()
                )
            )
        for dead in out.dead:
            src = sources[dead.message_index]
            pending.append(
                await dlq_topic.send(
                    key=src[0],
                    value=dead.letter.raw,
                    headers=_dlq_headers(dead.letter, src, settings.input_topic),
                )
            )
        for fut in pending:  # broker acks before the batch's offsets are acked
            await fut
        if out.dead:
            metrics.dead_letters_published.inc(len(out.dead))

    async def apply(
        values: list[bytes | None], sources: list[tuple[bytes | None, int, int]]
    ) -> None:
        status["unpublished"] = True
        out = core.handle(values, [s[1] for s in sources], [s[2] for s in sources])
        await publish(out, sources)
        status["unpublished"] = False

    async def replay(partition: int, start: int, end: int) -> None:
        """Apply the messages between a restored snapshot and where consumption resumed."""
        records = await asyncio.to_thread(read_range, settings, partition, start, end)
        log.info(
            "partition %d: replaying %d messages [%d, %d)", partition, len(records), start, end
        )
        step = max(1, settings.batch_max_messages)
        for i in range(0, len(records), step):
            chunk = records[i : i + step]
            await apply([r[1] for r in chunk], [(r[0], partition, r[2]) for r in chunk])
        metrics.messages_replayed.inc(len(records))

    def report_lag(tps: set[Any]) -> None:
        consumer = app.consumer
        for tp in tps:
            high = consumer.highwater(tp)  # from fetch responses: right on every broker
            nxt = core.next_offset.get(tp.partition)
            if high is not None and nxt is not None:
                lag = max(0, high - nxt)
                metrics.input_lag_messages.labels(partition=str(tp.partition)).set(lag)
                core.set_caught_up(tp.partition, lag == 0)

    async def checkpoint(reason: str) -> None:
        if store is None or not core.engines or status["unpublished"]:
            return
        t0 = time.perf_counter()
        try:
            sink = store.compressor()
            core.snapshot_into(sink)  # in the loop: consistent with the applied offsets
            sid, size = await asyncio.to_thread(store.write, dict(core.next_offset), sink)
        except Exception as exc:  # a failed snapshot is retried, never fatal
            metrics.checkpoint_failures.inc()
            log.warning("checkpoint (%s) failed: %s", reason, exc)
            return
        finally:
            status["last_checkpoint"] = time.monotonic()
        metrics.checkpoints_written.inc()
        metrics.checkpoint_bytes.set(size)
        metrics.checkpoint_seconds.observe(time.perf_counter() - t0)
        log.info("checkpoint %s (%s): %d bytes", sid, reason, size)

    @app.agent(source, name=_AGENT_NAME)
    async def ingest(stream: Any) -> None:
        async for batch in stream.take_events(
            settings.batch_max_messages, within=settings.batch_within_s
        ):
            async with lock:
                firsts: dict[int, int] = {}
                for event in batch:
                    firsts.setdefault(event.message.partition, event.message.offset)
                for partition, offset in firsts.items():
                    start = core.replay_from(partition, offset)
                    if start is not None:
                        await replay(partition, start, offset)
                for step in steps_of(batch, max_bytes=settings.batch_max_bytes):
                    await apply(
                        [event.value for event in step],
                        [
                            (event.message.key, event.message.partition, event.message.offset)
                            for event in step
                        ],
                    )
                    # A catch-up batch can hold minutes of work: let heartbeats and the
                    # metrics of the loop run between steps.
                    await asyncio.sleep(0)
                report_lag({event.message.tp for event in batch})
                if (
                    store is not None
                    and time.monotonic() - status["last_checkpoint"]
                    >= settings.checkpoint_interval_s
                ):
                    await checkpoint("interval")

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        async with lock:  # hand over fresh state to whoever gets these partitions
            await checkpoint("revoked")

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == settings.input_topic}
        async with lock:
            owned = set(core.engines) | set(core.next_offset)
            core.drop_partitions([p for p in owned if p not in mine])
            new = sorted(p for p in mine if p not in owned)
            if store is not None and new:
                await restore(new)
        metrics.assigned_partitions.set(len(mine))

    async def restore(partitions: list[int]) -> None:
        assert store is not None
        try:
            latest = await asyncio.to_thread(store.latest)
        except Exception as exc:  # start empty rather than not at all
            log.error(
                "could not read checkpoints, starting partitions %s empty: %s", partitions, exc
            )
            return
        by_snapshot: dict[str, list[int]] = {}
        for p in partitions:
            if p in latest:
                by_snapshot.setdefault(latest[p].snapshot_id, []).append(p)
        for sid, parts in sorted(by_snapshot.items(), key=lambda kv: -len(kv[1])):
            snap = latest[parts[0]]
            try:
                done = core.restore(CheckpointStore.state_of(snap), parts)
            except Exception as exc:  # e.g. written by an incompatible version
                # Never a crash: these partitions are rebuilt by reading them back.
                log.error(
                    "checkpoint %s unreadable, rebuilding %s from the input: %r", sid, parts, exc
                )
                metrics.checkpoint_failures.inc()
                continue
            metrics.state_restored.inc(len(done))
            for p in done:
                metrics.input_position.labels(partition=str(p)).set(core.next_offset[p])
            log.info("restored partitions %s from checkpoint %s", done, sid)
        for p in partitions:
            # No snapshot holds anything of this partition: the state includes none of it,
            # whatever the group committed, so everything before the consumer's position
            # is read back (from the start of the partition's retention).
            core.next_offset.setdefault(p, 0)

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, **_: Any) -> None:
        async with lock:
            await checkpoint("shutdown")
        if store is not None:
            await asyncio.to_thread(store.close)

    @app.task
    async def mark_up() -> None:
        metrics.worker_up.set(1)

    app.hydrawatch_pipeline = core
    return app
