"""Raw message values → decode → engine → alerts + dead letters, with metrics per batch.

Pure: the faust agent hands it the values of one consumed batch and publishes
what comes back; ``hydrawatch detect`` drives the same engine over a file.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.alerts import Deduper
from app.campaigns.linker import CampaignLinker
from app.config import Settings
from app.detectors import AccountWindowDetector
from app.engine import Engine, wall_clock_ms
from app.events import AlertEvent, DeadLetter, RequestEvent, decode_message
from app.metrics import Metrics

__all__ = ["Pipeline", "PipelineOutput", "SourcedDeadLetter"]


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
        return eng

    def drop_partitions(self, partitions: Sequence[int]) -> None:
        """Forget the windows of partitions this worker no longer owns."""
        for p in partitions:
            self.engines.pop(p, None)

    def handle(
        self, values: Sequence[bytes | None], partitions: Sequence[int] | None = None
    ) -> PipelineOutput:
        """Process the values of one consumed batch (``partitions[i]``: source of ``values[i]``)."""
        t0 = time.perf_counter()
        s = self.settings
        out = PipelineOutput()
        by_partition: dict[int, list[RequestEvent]] = {}
        raw_text = 0
        now_ms = self._clock()
        max_ts_ms = None if s.max_future_skew_ms is None else now_ms + s.max_future_skew_ms
        for i, value in enumerate(values):
            decoded = decode_message(
                value, max_message_bytes=s.max_message_bytes, max_batch_events=s.max_batch_events
            )
            raw_text += decoded.raw_text_dropped
            out.dead.extend(SourcedDeadLetter(i, d) for d in decoded.dead)
            part = partitions[i] if partitions is not None else 0
            events = by_partition.get(part)
            if events is None:
                events = by_partition[part] = []
            if max_ts_ms is None:
                events.extend(decoded.events)
                continue
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
        for part, events in by_partition.items():
            result = self.engine(part).process(events)
            out.alerts.extend(result.alerts)
            out.accepted += result.accepted
            out.late += result.late
            windows_closed += result.windows_closed

        m = self.metrics
        m.messages_consumed.inc(len(values))
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
