"""Raw message values → decode → engine → alerts + dead letters, with metrics per batch.

Pure: the faust agent hands it the values of one consumed batch and publishes
what comes back; ``hydrawatch detect`` drives the same engine over a file.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import pickle
import time
from collections import Counter as Tally
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.alerts import Deduper
from app.campaigns.linker import CampaignLinker
from app.config import Settings
from app.detectors import AccountWindowDetector
from app.engine import Engine, wall_clock_ms
from app.events import AlertEvent, DeadLetter, RequestEvent, decode_message
from app.metrics import Metrics

if TYPE_CHECKING:
    from _typeshed import SupportsWrite as _SupportsWrite

    SupportsWrite = _SupportsWrite[bytes]

__all__ = ["SNAPSHOT_VERSION", "Pipeline", "PipelineOutput", "SourcedDeadLetter"]

#: Bumped whenever the pickled state layout changes; older snapshots are ignored.
SNAPSHOT_VERSION = 6


def _first_ts(item: tuple[int, list[RequestEvent]]) -> int:
    return item[1][0].ts_ms


def _time_merged(
    by_partition: dict[int, list[list[RequestEvent]]],
) -> list[tuple[int, list[RequestEvent]]]:
    """A batch's messages as (partition, events) runs, partitions interleaved by time.

    A consumed batch holds each partition's messages in a block (a catch-up batch can
    span hours of event time per partition); applied block by block, the shared linker
    would see one partition hours ahead of the others within every batch. Merging the
    messages on their first event time keeps the partitions in step; each partition's
    messages keep their order.

    >>> from app.events import RequestEvent
    >>> def ev(ts):
    ...     return RequestEvent.model_construct(ts_ms=ts)
    >>> runs = _time_merged({0: [[ev(1), ev(2)], [ev(5)]], 1: [[ev(3)], [ev(4)]]})
    >>> [(p, [e.ts_ms for e in es]) for p, es in runs]
    [(0, [1, 2]), (1, [3, 4]), (0, [5])]
    """
    streams = [[(part, msg) for msg in msgs if msg] for part, msgs in by_partition.items()]
    out: list[tuple[int, list[RequestEvent]]] = []
    for part, msg in heapq.merge(*streams, key=_first_ts):
        if out and out[-1][0] == part:
            out[-1][1].extend(msg)
        else:
            out.append((part, list(msg)))
    return out


@dataclass(frozen=True, slots=True)
class SourcedDeadLetter:
    """A dead letter with the position of the message it came from in the batch."""

    message_index: int
    letter: DeadLetter


@dataclass(slots=True)
class PipelineOutput:
    alerts: list[AlertEvent] = field(default_factory=list)
    dead: list[SourcedDeadLetter] = field(default_factory=list)
    accepted: int = 0
    late: int = 0
    duplicates: int = 0
    #: messages below their partition's applied offset (already in the state)
    skipped: int = 0


class Pipeline:
    """One worker's processing state: an engine plus metric bookkeeping."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        *,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._clock = clock
        self.detector = AccountWindowDetector(settings.detection)
        self.dedup = Deduper(cooldown_ms=settings.detection.cooldown_ms)
        # One linkage graph per worker: pivots span accounts of every partition it owns.
        self.linker = CampaignLinker(settings.detection)
        #: One engine (windows + watermark) per input partition; accounts are
        #: partitioned by key, so each account's windows live in exactly one.
        self.engines: dict[int, Engine] = {}
        #: Per input partition, the offset of the next message not yet applied.
        self.next_offset: dict[int, int] = {}
        #: Partitions with nothing left to read (set by the stream layer from consumer lag):
        #: they do not hold back the linker's clock (:meth:`tick_clock`).
        self.caught_up: set[int] = set()
        self._evicted_reported = 0
        self._positions: set[str] = set()

    def engine(self, partition: int) -> Engine:
        eng = self.engines.get(partition)
        if eng is None:
            eng = self.engines[partition] = Engine(
                self.settings.detection,
                clock=self._clock,
                detector=self.detector,
                dedup=self.dedup,
                linker=self.linker,
            )
            eng.tick_clock = self.tick_clock
        return eng

    def set_caught_up(self, partition: int, caught_up: bool) -> None:
        """Record whether ``partition`` has nothing more to read (consumer lag 0)."""
        if caught_up:
            self.caught_up.add(partition)
        else:
            self.caught_up.discard(partition)

    def tick_clock(self, ts_ms: int) -> int | None:
        """Event time every partition that still has input to deliver has reached.

        The engines share one linker, and a linkage tick judges 24 h of evidence: when
        one partition runs ahead of another (a backlog after an outage, uneven fetches),
        ticking at the fast partition's time would judge the slow one's accounts before
        their traffic arrived, and not again while it caught up (measured over the bench
        file read one whole partition after another: 1,105 alerts instead of ~3,800).
        So the linker ticks at the slowest partition's newest
        event time; partitions known to be caught up (nothing left to read) or that have
        delivered nothing yet do not hold it back.
        """
        clock: int | None = None
        caught_up = self.caught_up
        for p, eng in self.engines.items():
            if p in caught_up:
                continue
            t = eng.windows.max_event_ts_ms
            if t is not None and (clock is None or t < clock):
                clock = t
        return ts_ms if clock is None else clock

    def drop_partitions(self, partitions: Sequence[int]) -> None:
        """Forget the windows of partitions this worker no longer owns."""
        for p in partitions:
            self.engines.pop(p, None)
            self.next_offset.pop(p, None)
            self.caught_up.discard(p)
            if str(p) in self._positions:
                self.metrics.input_position.remove(str(p))
                self._positions.discard(str(p))
            with contextlib.suppress(KeyError):  # set by the stream agent, if ever
                self.metrics.input_lag_messages.remove(str(p))

    # ---- checkpoints ----------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state and the offsets it includes (consistent between batches)."""
        buf = io.BytesIO()
        self.snapshot_into(buf)
        return buf.getvalue()

    def snapshot_into(self, file: SupportsWrite) -> None:
        """Stream the snapshot into ``file`` (e.g. a compressor) without one big copy."""
        pickle.dump(
            {
                "version": SNAPSHOT_VERSION,
                "engines": self.engines,
                "detector": self.detector,
                "dedup": self.dedup,
                "linker": self.linker,
                "next_offset": dict(self.next_offset),
            },
            file,
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, state: bytes, partitions: Collection[int]) -> list[int]:
        """Adopt the snapshot's state for ``partitions`` this pipeline does not hold yet.

        A pipeline with no partitions adopts the snapshot's models and linkage graph
        whole; one that already runs (a partition moved to it in a rebalance) adopts the
        partitions' windows and offsets and keeps its own models and graph, so the
        moved accounts' linkage evidence builds up again from the stream.
        Returns the partitions restored. Snapshots of another version are ignored.
        """
        snap = pickle.loads(state)
        if not isinstance(snap, dict) or snap.get("version") != SNAPSHOT_VERSION:
            return []
        wanted = [p for p in partitions if p not in self.engines and p in snap["next_offset"]]
        if not wanted:
            return []
        if not self.engines:
            self.detector = snap["detector"]
            self.dedup = snap["dedup"]
            self.linker = snap["linker"]
            self._evicted_reported = self.linker.evicted
        for p in wanted:
            eng = snap["engines"].get(p)
            if eng is not None:
                eng.detector, eng.dedup, eng.linker = self.detector, self.dedup, self.linker
                eng._clock = self._clock
                eng.tick_clock = self.tick_clock
                self.engines[p] = eng
            self.next_offset[p] = snap["next_offset"][p]
        return wanted

    def replay_from(self, partition: int, offset: int) -> int | None:
        """Where to read back from before applying ``offset`` (None: nothing missing)."""
        nxt = self.next_offset.get(partition)
        return nxt if nxt is not None and offset > nxt else None

    def handle(
        self,
        values: Sequence[bytes | None],
        partitions: Sequence[int] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> PipelineOutput:
        """Process the values of one consumed batch (``partitions[i]``: source of ``values[i]``).

        With ``offsets``, a message below its partition's applied offset (a re-delivery
        of something the state already includes) is skipped, and the applied offsets
        advance: what a snapshot taken after this call includes.
        """
        t0 = time.perf_counter()
        s = self.settings
        out = PipelineOutput()
        #: position of each (kept) value in the caller's batch, when some were skipped
        source_index: list[int] | None = None
        if offsets is not None:
            if partitions is None:
                raise ValueError("offsets need partitions")
            keep = []
            nxt = self.next_offset
            for i, (p, o) in enumerate(zip(partitions, offsets, strict=True)):
                if o < nxt.get(p, -1):
                    out.skipped += 1
                    continue
                keep.append(i)
                nxt[p] = o + 1
            if out.skipped:
                source_index = keep
                values = [values[i] for i in keep]
                partitions = [partitions[i] for i in keep]
        #: per partition, the events of each of its messages (in offset order)
        by_partition: dict[int, list[list[RequestEvent]]] = {}
        raw_text = 0
        now_ms = self._clock()
        max_ts_ms = None if s.max_future_skew_ms is None else now_ms + s.max_future_skew_ms
        for k, value in enumerate(values):
            i = k if source_index is None else source_index[k]
            decoded = decode_message(
                value, max_message_bytes=s.max_message_bytes, max_batch_events=s.max_batch_events
            )
            raw_text += decoded.raw_text_dropped
            out.dead.extend(SourcedDeadLetter(i, d) for d in decoded.dead)
            part = partitions[k] if partitions is not None else 0
            runs = by_partition.get(part)
            if runs is None:
                runs = by_partition[part] = []
            if max_ts_ms is None:
                runs.append(decoded.events)
                continue
            events: list[RequestEvent] = []
            runs.append(events)
            for j, e in enumerate(decoded.events):
                if e.ts_ms > max_ts_ms:
                    out.dead.append(
                        SourcedDeadLetter(
                            i,
                            DeadLetter(
                                "ts_in_future",
                                f"ts_ms is {e.ts_ms - now_ms} ms ahead of the wall clock "
                                f"(limit {s.max_future_skew_ms})",
                                e.model_dump_json(exclude_none=True).encode(),
                                j,
                            ),
                        )
                    )
                else:
                    events.append(e)
        windows_closed = 0
        scores: list[float] = []
        for part in by_partition:  # every partition heard from has its engine
            self.engine(part)
        for part, events in _time_merged(by_partition):
            result = self.engine(part).process(events)
            out.alerts.extend(result.alerts)
            out.accepted += result.accepted
            out.late += result.late
            out.duplicates += result.duplicates
            scores.extend(result.scores)
            windows_closed += result.windows_closed

        m = self.metrics
        m.messages_consumed.inc(len(values))
        if out.skipped:
            m.messages_skipped.inc(out.skipped)
        if out.duplicates:
            m.events_duplicate.inc(out.duplicates)
        evicted = self.linker.evicted
        if evicted > self._evicted_reported:
            m.state_evictions.inc(evicted - self._evicted_reported)
        self._evicted_reported = evicted
        if offsets is not None:
            for p in set(partitions or ()):
                self._positions.add(str(p))
                m.input_position.labels(partition=str(p)).set(self.next_offset[p])
        m.last_batch_timestamp.set(time.time())
        m.events_consumed.inc(out.accepted + out.late)
        if out.late:
            m.events_late.inc(out.late)
        if raw_text:
            m.raw_text_dropped.inc(raw_text)
        if out.dead:
            for reason, n in Tally(d.letter.reason for d in out.dead).items():
                m.events_invalid.labels(reason=reason).inc(n)
        if windows_closed:
            m.windows_closed.labels(entity_type="account").inc(windows_closed)
        if scores:
            hist = m.window_scores.labels(entity_type="account")
            for score in scores:
                hist.observe(score)
        for (etype, sev), n in Tally((a.entity_type, a.severity) for a in out.alerts).items():
            m.alerts_emitted.labels(entity_type=etype, severity=sev).inc(n)
        marks = [e.windows.max_event_ts_ms for e in self.engines.values()]
        newest = max((t for t in marks if t is not None), default=None)
        if newest is not None:
            m.event_time_lag_seconds.set((now_ms - newest) / 1000.0)
            wms = [e.watermark_ms for e in self.engines.values() if e.watermark_ms is not None]
            m.watermark_seconds.set(min(wms) / 1000.0)
        m.open_windows.labels(entity_type="account").set(
            sum(e.windows.open_windows for e in self.engines.values())
        )
        m.batch_events.observe(out.accepted + out.late)
        if newest is not None:
            m.campaigns_active.set(self.linker.active_campaigns(newest))
        for kind, n in self.linker.sizes().items():
            m.tracked_entities.labels(kind=kind).set(n)
        m.batch_processing_seconds.observe(time.perf_counter() - t0)
        return out
