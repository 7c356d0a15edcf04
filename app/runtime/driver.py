"""The stages of one worker, driven batch by batch: no faust, no Kafka, no wall clock.

The faust agents (``app/runtime/app.py``) decode their batches into ``(key, value,
partition, offset)`` messages and hand them to :meth:`StageDriver.handle`; everything
else happens here, through the small interfaces of :mod:`app.runtime.ports`:

- **apply**: messages below a partition's applied offset are skipped (re-deliveries of
  what its state already includes); the rest go to the partition's stage object
  (:mod:`app.core.stages`), and the batch's output is sent through the :class:`Sink` — one
  observations message per pivot partition (more only past the size limit), links to
  the single links partition, alerts, dead letters — and every acknowledgement is
  awaited before the call returns.
- **checkpoint**: each stage's partitions are snapshotted with the offsets they include,
  every ``checkpoint_interval_s`` and on revocation and shutdown; never while a batch's
  output is unacknowledged (one lock covers applying, publishing, snapshotting and
  restoring). A failed write is counted and retried at the next interval, never fatal.
- **take**: newly assigned partitions are restored from their newest snapshots and read
  back from there to their end before the stage's next batch is applied.
- **idle marks**: caught-up account partitions quiet for ``idle_after_s`` tell every
  pivot partition so (:mod:`app.runtime.idle`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from app.core.events import AlertEvent, DeadLetter
from app.core.events.alert import ACTIONS
from app.core.stages.account import AccountStage
from app.core.stages.campaign import CampaignStage
from app.core.stages.ingest import decode_values
from app.core.stages.pivot import PivotStage
from app.core.stages.records import (
    LinkInput,
    PivotInput,
    decode_link_inputs,
    decode_pivot_inputs,
    encode_link_inputs,
    encode_pivot_inputs,
    split_link_input,
    split_pivot_input,
)
from app.core.verdicts import VerdictBook
from app.runtime.config import Settings
from app.runtime.host import StageHost
from app.runtime.idle import idle_partitions
from app.runtime.metrics import Metrics
from app.runtime.ports import (
    Clock,
    Message,
    ReadBack,
    Sink,
    SnapshotStore,
    SystemClock,
    VerdictSource,
)
from app.runtime.readback import Record

__all__ = ["STAGES", "StageDriver", "dlq_headers"]

log = logging.getLogger("hydrawatch.stream")

STAGES = ("account", "pivot", "campaign")
_MAX_OBS_PER_RECORD = 20_000
_MAX_LINKS_PER_RECORD = 10_000
#: pivot records per observations message, link records per links message
_PIVOT_RECORDS_PER_MESSAGE = 4
_LINK_RECORDS_PER_MESSAGE = 8
#: messages applied between two yields to the event loop (heartbeats go on)
_STEP = 256

Factory = Callable[[int], Any]


def _clock_of(stage: Any) -> int | None:
    """A stage object's event clock (watermark or upstream minimum), if it has one."""
    if isinstance(stage, AccountStage):
        return stage.watermark_ms
    clock = getattr(stage, "clock", None)
    return getattr(clock, "now_ms", None)


def dlq_headers(
    letter: DeadLetter, *, partition: int, offset: int, input_topic: str
) -> list[tuple[str, bytes]]:
    """Where a dead letter came from and why, as message headers."""
    return [
        ("hydrawatch-reason", letter.reason.encode()),
        ("hydrawatch-detail", letter.detail.encode()),
        ("hydrawatch-source-topic", input_topic.encode()),
        ("hydrawatch-source-partition", str(partition).encode()),
        ("hydrawatch-source-offset", str(offset).encode()),
        ("hydrawatch-source-index", b"" if letter.index is None else str(letter.index).encode()),
    ]


def _no_read_back(topic: str, starts: Mapping[int, int]) -> Iterator[tuple[int, list[Record]]]:
    return iter(())


class StageDriver:
    """The stages this worker runs, their partitions, checkpoints and idle marks.

    ``stores``: stage → snapshot store (a stage without one is never checkpointed);
    ``read_back``: how a taken partition is read from its restored offset to its end
    (none: nothing is read back); ``highwater``: input partition → its fetch high-water
    mark (lag and the idle rule; None while unknown); ``factories``: stage → partition →
    a fresh stage object (default: the :mod:`app.core.stages` ones for ``settings``).
    """

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        *,
        sink: Sink,
        stages: Sequence[str] = STAGES,
        stores: Mapping[str, SnapshotStore] | None = None,
        read_back: ReadBack | None = None,
        highwater: Callable[[int], int | None] | None = None,
        clock: Clock | None = None,
        factories: Mapping[str, Factory] | None = None,
        verdicts: VerdictSource | None = None,
    ) -> None:
        unknown = set(stages) - set(STAGES)
        if unknown or not stages:
            raise ValueError(f"stages must be some of {', '.join(STAGES)}; got {tuple(stages)}")
        self.settings = settings
        self.metrics = metrics
        self.sink = sink
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._read_back = read_back if read_back is not None else _no_read_back
        self._highwater = highwater if highwater is not None else (lambda p: None)
        #: the verdicts in force, shared by every stage object of this worker
        self.book = VerdictBook()
        self._verdicts = verdicts
        self._verdicts_read = verdicts is None
        made = {**self._default_factories(settings, self.book), **(factories or {})}
        topics = {
            "account": settings.input_topic,
            "pivot": settings.observations_topic,
            "campaign": settings.links_topic,
        }
        #: stage name → its partitions on this worker (in topology order)
        self.hosts: dict[str, StageHost[Any]] = {
            name: StageHost(name, topics[name], made[name]) for name in STAGES if name in stages
        }
        self.stores: dict[str, SnapshotStore] = {
            name: store for name, store in (stores or {}).items() if name in self.hosts
        }
        self._apply: dict[str, Callable[[Sequence[Message]], Awaitable[None]]] = {
            "account": self._apply_input,
            "pivot": self._apply_observations,
            "campaign": self._apply_links,
        }
        #: Held while a batch is applied and its output published, and while state is
        #: snapshotted or restored: a snapshot never includes unpublished output.
        self._lock = asyncio.Lock()
        self._last_checkpoint = self.clock.monotonic()
        #: input partition → monotonic time of its last message or assignment (idle rule)
        self._last_input: dict[int, float] = {}
        #: input partitions whose lag was 0 at their last batch
        self.caught_up: set[int] = set()
        #: stage → the task restoring and reading back its newly assigned partitions:
        #: nothing of a stage is applied before that is done
        self._taking: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    def _default_factories(settings: Settings, book: VerdictBook) -> dict[str, Factory]:
        det = settings.detection
        n_input = settings.topic_partitions
        return {
            "account": lambda p: AccountStage(
                det, partition=p, pivot_partitions=det.pivot_partitions, verdicts=book
            ),
            "pivot": lambda q: PivotStage(
                det, partition=q, upstream_partitions=n_input, verdicts=book
            ),
            "campaign": lambda _: CampaignStage(
                det, upstream_partitions=det.pivot_partitions, verdicts=book
            ),
        }

    # ---- verdicts ----------------------------------------------------------------------
    async def _read_verdicts(self) -> None:
        """Apply the verdict records read since the last batch (the first time: wait
        until the topic was read to its end, so nothing is applied without them)."""
        src = self._verdicts
        if src is None:
            return
        if not self._verdicts_read:
            ok = await asyncio.to_thread(src.wait_caught_up, self.settings.verdict_wait_s)
            if not ok:
                log.error(
                    "verdicts topic not read within %.0fs: applying without the rest",
                    self.settings.verdict_wait_s,
                )
            self._verdicts_read = True
            self._report_verdicts()
        records = src.drain()
        if not records:
            return
        mt = self.metrics
        clocks = [
            c
            for host in self.hosts.values()
            for st in host.stages.values()
            if (c := _clock_of(st)) is not None
        ]
        newest = max(clocks) if clocks else None
        for key, value in records:
            outcome, what = self.book.apply_record(key, value)
            mt.verdict_records.labels(outcome=outcome).inc()
            if outcome == "invalid":
                log.warning("skipping an invalid verdict record: %s", what)
            elif outcome == "put" and newest is not None and what.issued_ms < newest:  # type: ignore[union-attr]
                mt.verdicts_late.inc()
        self._report_verdicts()

    def _report_verdicts(self) -> None:
        now = self.clock.wall_ms()
        counts: dict[tuple[str, str], int] = {}
        for v in self.book.all():
            if v.in_force(now):
                counts[(v.verdict, v.subject_kind)] = counts.get((v.verdict, v.subject_kind), 0) + 1
        g = self.metrics.verdicts_in_force
        for verdict in ("benign", "confirmed"):
            for kind in ("campaign", "account", "org", "payment", "tls", "template", "subnet"):
                g.labels(verdict=verdict, subject_kind=kind).set(counts.get((verdict, kind), 0))

    # ---- the agents' entry points ------------------------------------------------------
    async def handle(self, stage: str, msgs: Sequence[Message]) -> None:
        """Apply one consumed batch of ``stage``'s input (any order) and publish its output.

        Waits for the stage's partitions being taken first; checkpoints when the
        interval is due.
        """
        task = self._taking.get(stage)
        if task is not None:
            await task
        ordered = sorted(msgs, key=lambda m: (m[2], m[3]))
        apply = self._apply[stage]
        async with self._lock:
            await self._read_verdicts()
            for i in range(0, len(ordered), _STEP):
                await apply(ordered[i : i + _STEP])
                await asyncio.sleep(0)  # heartbeats between steps
            await self._maybe_checkpoint()
        if stage == "account":
            self._report_lag({m[2] for m in ordered})

    async def assign(self, assigned: Iterable[tuple[str, int]]) -> None:
        """The ``(topic, partition)``s this worker now owns: drop the others' state, take
        the new ones in the background (their stage's agent waits for it)."""
        pairs = list(assigned)
        async with self._lock:
            for name, host in self.hosts.items():
                mine = sorted(p for t, p in pairs if t == host.topic)
                gone = [p for p in host.stages if p not in mine]
                host.drop(gone)
                new = [p for p in mine if p not in host.stages]
                if new:
                    # in the background, so the group's heartbeats go on
                    self._taking[name] = asyncio.ensure_future(
                        self._after(self._taking.get(name), self.take(name, new))
                    )
                if name == "account":
                    self.metrics.assigned_partitions.set(len(mine))
                    for p in gone:
                        self.caught_up.discard(p)
                        self._last_input.pop(p, None)
                    for p in new:  # the quiet time of a partition starts when it is taken
                        self._last_input[p] = self.clock.monotonic()

    async def taken(self) -> None:
        """Wait until every partition assigned so far is restored and read back."""
        for task in list(self._taking.values()):
            await task

    async def checkpoint(self, reason: str) -> None:
        """Snapshot every stage that applied something since its last snapshot."""
        async with self._lock:
            await self._checkpoint(reason)

    async def close(self) -> None:
        """Shutdown: a last checkpoint, then the stores are closed."""
        await self.checkpoint("shutdown")
        for store in self.stores.values():
            await asyncio.to_thread(store.close)

    async def idle_marks(self) -> None:
        """Caught-up input partitions quiet for ``idle_after_s`` are declared idle."""
        host = self.hosts.get("account")
        if host is None:
            return
        records: dict[int, list[PivotInput]] = {}
        async with self._lock:
            task = self._taking.get("account")
            idle = idle_partitions(
                host.stages,
                now=self.clock.monotonic(),
                idle_after_s=self.settings.idle_after_s,
                restoring=task is not None and not task.done(),
                quiet_since=self._last_input,
                applied_to=host.next_offset,
                highwater=self._highwater,
            )
            for p in idle:
                for q, rec in host.stages[p].idle_records().items():
                    records.setdefault(q, []).append(rec)
            if records:
                pending: list[Awaitable[object]] = []
                await self._send_pivot_records(self._encode_pivot_records(records), pending)
                for fut in pending:
                    await fut

    # ---- output ------------------------------------------------------------------------
    # Encoding is synchronous and done before any send, so a stage's CPU figure (taken
    # on this thread around its synchronous work only) never includes what other
    # coroutines did while a send awaited.
    def _encode_alerts(self, alerts: list[AlertEvent]) -> list[tuple[bytes, bytes]]:
        for (etype, sev), n in Tally((a.entity_type, a.severity) for a in alerts).items():
            self.metrics.alerts_emitted.labels(entity_type=etype, severity=sev).inc(n)
        for a in alerts:
            if a.verdict_id is not None:
                would = next((r.value for r in a.reasons if r.feature == "verdict"), 0.0)
                self.metrics.alerts_suppressed.labels(
                    entity_type=a.entity_type, action=ACTIONS[int(would)]
                ).inc()
            if any(r.feature == "remembered_indicators" for r in a.reasons[:2]):
                self.metrics.remembered_member_alerts.inc()
        return [(a.entity_id.encode(), a.model_dump_json().encode()) for a in alerts]

    async def _publish_alerts(
        self, encoded: list[tuple[bytes, bytes]], pending: list[Awaitable[object]]
    ) -> None:
        for key, value in encoded:
            pending.append(await self.sink.send("alerts", key=key, value=value))

    def _encode_pivot_records(
        self, records: dict[int, list[PivotInput]]
    ) -> list[tuple[int, bytes]]:
        out = []
        per = _PIVOT_RECORDS_PER_MESSAGE
        for q in sorted(records):
            chunks = [
                c for r in records[q] for c in split_pivot_input(r, max_obs=_MAX_OBS_PER_RECORD)
            ]
            # one message per destination partition (more only past the size limit)
            for i in range(0, len(chunks), per):
                value = encode_pivot_inputs(chunks[i : i + per])
                self.metrics.internal_bytes.labels(topic="observations").inc(len(value))
                out.append((q, value))
        return out

    async def _send_pivot_records(
        self, encoded: list[tuple[int, bytes]], pending: list[Awaitable[object]]
    ) -> None:
        for q, value in encoded:
            pending.append(await self.sink.send("observations", value=value, partition=q))

    # ---- account stage -----------------------------------------------------------------
    async def _apply_input(self, msgs: Sequence[Message]) -> None:
        """``(key, value, partition, offset)`` input messages, in partition order."""
        settings, mt, clock = self.settings, self.metrics, self.clock
        host = self.hosts["account"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if len(keep) < len(msgs):
            mt.messages_skipped.inc(len(msgs) - len(keep))
        if not keep:
            return
        host.unpublished = True
        t0 = time.perf_counter()
        c0 = time.thread_time()
        now_ms = clock.wall_ms()
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
            self._last_input[m[2]] = clock.monotonic()
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
                hist = mt.window_scores.labels(entity_type="account")
                for s in out.scores:
                    hist.observe(s)
        obs_values = self._encode_pivot_records(records)
        alert_values = self._encode_alerts(alerts)
        mt.stage_cpu_seconds.labels(stage="account").inc(time.thread_time() - c0)
        pending: list[Awaitable[object]] = []
        await self._send_pivot_records(obs_values, pending)
        await self._publish_alerts(alert_values, pending)
        mt.stage_records.labels(stage="account").inc(accepted + late + dups)
        for dead in ing.dead:
            key, _, part, off = keep[dead.message_index]
            pending.append(
                await self.sink.send(
                    "dlq",
                    key=key,
                    value=dead.letter.raw,
                    headers=dlq_headers(
                        dead.letter, partition=part, offset=off, input_topic=host.topic
                    ),
                )
            )
        for fut in pending:  # broker acks before the batch's offsets are acked
            await fut
        host.unpublished = False
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
        mt.last_batch_timestamp.set(clock.wall_ms() / 1000.0)
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

    # ---- pivot stage -------------------------------------------------------------------
    async def _apply_observations(self, msgs: Sequence[Message]) -> None:
        mt = self.metrics
        host = self.hosts["pivot"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if not keep:
            return
        host.unpublished = True
        c0 = time.thread_time()
        now_ms = self.clock.wall_ms()
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
                mt.events_late.inc(out.late)
            if out.links is not None:
                links += split_link_input(out.links, max_links=_MAX_LINKS_PER_RECORD)
        link_values = []
        per = _LINK_RECORDS_PER_MESSAGE
        for i in range(0, len(links), per):
            value = encode_link_inputs(links[i : i + per])
            mt.internal_bytes.labels(topic="links").inc(len(value))
            link_values.append(value)
        alert_values = self._encode_alerts(alerts)
        mt.stage_cpu_seconds.labels(stage="pivot").inc(time.thread_time() - c0)
        pending: list[Awaitable[object]] = []
        for value in link_values:
            pending.append(await self.sink.send("links", value=value, partition=0))
        await self._publish_alerts(alert_values, pending)
        mt.stage_records.labels(stage="pivot").inc(n_obs)
        clocks = [s.clock.now_ms for s in host.stages.values() if s.clock.now_ms is not None]
        if clocks:
            mt.stage_clock_seconds.labels(stage="pivot").set(min(clocks) / 1000.0)
        for fut in pending:
            await fut
        host.unpublished = False
        for kind in ("pivots", "solo_indicators"):
            mt.tracked_entities.labels(kind=kind).set(
                sum(s.sizes()[kind] for s in host.stages.values())
            )

    # ---- campaign stage ----------------------------------------------------------------
    async def _apply_links(self, msgs: Sequence[Message]) -> None:
        mt = self.metrics
        host = self.hosts["campaign"]
        keep = [m for m in msgs if host.keep(m[2], m[3])]
        if not keep:
            return
        host.unpublished = True
        c0 = time.thread_time()
        now_ms = self.clock.wall_ms()
        stage = host.get(0)
        n_links = 0
        for _, value, _, _ in keep:
            for rec in decode_link_inputs(value or b"[]"):
                stage.receive(rec)
                n_links += sum(len(t.links) for t in rec.ticks)
        out = stage.advance(emitted_ms=now_ms)
        alert_values = self._encode_alerts(out.alerts)
        mt.stage_cpu_seconds.labels(stage="campaign").inc(time.thread_time() - c0)
        pending: list[Awaitable[object]] = []
        await self._publish_alerts(alert_values, pending)
        mt.stage_records.labels(stage="campaign").inc(n_links)
        if out.clock_ms is not None:
            mt.stage_clock_seconds.labels(stage="campaign").set(out.clock_ms / 1000.0)
        for fut in pending:
            await fut
        host.unpublished = False
        if out.clock_ms is not None:
            mt.campaigns_active.set(stage.active_campaigns(out.clock_ms))
        mt.remembered_indicators.labels(stage="campaign").set(len(stage.memory))

    # ---- checkpoints -------------------------------------------------------------------
    async def _checkpoint(self, reason: str) -> None:
        """Snapshot the dirty stages; the caller holds the lock."""
        mt = self.metrics
        for name, host in self.hosts.items():
            store = self.stores.get(name)
            if store is None or not host.stages or host.unpublished or not host.dirty:
                continue
            t0 = time.perf_counter()
            try:
                state = store.compressor()
                state.write(host.snapshot())  # in the loop: consistent with the offsets
                offsets = {p: host.next_offset.get(p, 0) for p in host.stages}
                sid, size = await asyncio.to_thread(store.write, offsets, state)
            except Exception as exc:  # a failed snapshot is retried, never fatal
                mt.checkpoint_failures.inc()
                log.warning("checkpoint of %s (%s) failed: %s", name, reason, exc)
                continue
            host.dirty = False
            mt.checkpoints_written.inc()
            mt.checkpoint_bytes.set(size)
            mt.checkpoint_seconds.observe(time.perf_counter() - t0)
            log.info("checkpoint %s of %s (%s): %d bytes", sid, name, reason, size)
        self._last_checkpoint = self.clock.monotonic()

    async def _maybe_checkpoint(self) -> None:
        if (
            self.stores
            and self.clock.monotonic() - self._last_checkpoint
            >= self.settings.checkpoint_interval_s
        ):
            await self._checkpoint("interval")

    # ---- taking partitions -------------------------------------------------------------
    @staticmethod
    async def _after(previous: asyncio.Task[None] | None, then: Awaitable[None]) -> None:
        if previous is not None:
            await previous
        await then

    async def take(self, name: str, partitions: list[int]) -> None:
        """Restore ``partitions`` of a stage and read back what their state lacks.

        The stage's own batches wait for this; the lock is held per restore and per
        read-back chunk only, so the other stages go on meanwhile.
        """
        async with self._lock:
            starts = await self._restore(name, partitions)
        host = self.hosts[name]
        gen = self._read_back(host.topic, starts)
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
            async with self._lock:
                await self._apply[name]([(k, v, p, o) for k, v, o in records])
                await self._maybe_checkpoint()  # a long read-back is checkpointed as it goes
        if n:
            self.metrics.messages_replayed.inc(n)
            log.info("%s: read back %d messages", name, n)
        if name == "account":
            for p in partitions:
                self.metrics.input_position.labels(partition=str(p)).set(host.next_offset[p])

    async def _restore(self, name: str, partitions: list[int]) -> dict[int, int]:
        """Adopt the newest snapshots of ``partitions``; their offsets to read back from."""
        host = self.hosts[name]
        store = self.stores.get(name)
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
                    done = host.restore(store.state_of(snap), parts, dict(snap.offsets))
                except Exception as exc:  # never a crash: rebuilt from the input
                    log.error("checkpoint %s unreadable, rebuilding %s: %r", sid, parts, exc)
                    self.metrics.checkpoint_failures.inc()
                    continue
                for p in done:  # the worker's verdicts, not the snapshot's copy
                    host.stages[p].verdicts = self.book
                self.metrics.state_restored.inc(len(done))
                log.info("%s: restored partitions %s from checkpoint %s", name, done, sid)
        starts = {}
        for p in partitions:
            if p not in host.stages:
                host.get(p)
            starts[p] = host.next_offset.setdefault(p, 0)
        return starts

    # ---- lag ---------------------------------------------------------------------------
    def _report_lag(self, partitions: Iterable[int]) -> None:
        host = self.hosts["account"]
        for p in partitions:
            high = self._highwater(p)
            nxt = host.next_offset.get(p)
            if high is not None and nxt is not None:
                lag = max(0, high - nxt)
                self.metrics.input_lag_messages.labels(partition=str(p)).set(lag)
                if lag == 0:
                    self.caught_up.add(p)
                else:
                    self.caught_up.discard(p)
