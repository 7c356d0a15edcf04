"""The pure detection core: events in (any order within grace), alerts out.

The faust agents, ``hydrawatch detect`` and ``hydrawatch evaluate`` all drive this
same object; it imports neither faust nor Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from app.alerts import Deduper, build_alert
from app.campaigns.evidence import FAMILY_THRESHOLD
from app.campaigns.linker import CampaignLinker
from app.config import DetectionSettings
from app.detectors import AccountWindowDetector
from app.events import AlertEvent, RequestEvent
from app.events.request import subnet_of
from app.features import AccountWindow, account_features
from app.features.request import request_signals
from app.windows import TumblingWindows

__all__ = ["BatchResult", "Engine", "wall_clock_ms"]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class BatchResult:
    """What one call to the engine produced."""

    alerts: list[AlertEvent] = field(default_factory=list)
    accepted: int = 0
    late: int = 0
    duplicates: int = 0
    windows_closed: int = 0
    #: Model score of every window scored (for the score-distribution metric).
    scores: list[float] = field(default_factory=list)


class Engine:
    """Per-account event-time windows → River detector → deduplicated AlertEvents.

    One engine owns the windows of one ordered source (an input partition, or a
    file) and its watermark.
    """

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        clock: Callable[[], int] = wall_clock_ms,
        detector: AccountWindowDetector | None = None,
        dedup: Deduper | None = None,
        linker: CampaignLinker | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.windows: TumblingWindows[str, AccountWindow] = TumblingWindows(
            window_ms=settings.window_ms, grace_ms=settings.grace_ms, factory=AccountWindow
        )
        # Several engines (one per input partition, each with its own watermark)
        # may share one detector model and one dedup memory.
        self.detector = detector if detector is not None else AccountWindowDetector(settings)
        self.dedup = dedup if dedup is not None else Deduper(cooldown_ms=settings.cooldown_ms)
        self.linker = linker if linker is not None else CampaignLinker(settings)
        #: event_id → event time of recently accepted events (insertion ≈ time order):
        #: a repeated id within ``dedupe_window_ms`` (a producer retry, a re-delivered
        #: message) is counted once.
        self.seen: dict[str, int] = {}
        #: Event time the shared linker may tick at, given this engine's newest event
        #: (set by a :class:`~app.pipeline.Pipeline` whose engines share one linker: the
        #: slowest partition with more to read holds it back). None: the event's own time.
        self.tick_clock: Callable[[int], int | None] | None = None

    def __getstate__(self) -> dict[str, object]:
        """Checkpoint everything but the clocks (pickle); a restored engine uses wall time."""
        state = dict(self.__dict__)
        state.pop("_clock", None)
        state.pop("tick_clock", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clock = wall_clock_ms
        self.tick_clock = None

    @property
    def watermark_ms(self) -> int | None:
        return None if self.windows.max_event_ts_ms is None else self.windows.watermark_ms

    def process(self, events: Iterable[RequestEvent]) -> BatchResult:
        """Add a batch of events, close the windows the watermark passed, score them."""
        result = BatchResult()
        windows = self.windows
        add = windows.add
        linker = self.linker
        observe = linker.observe
        seen = self.seen
        cap = self.settings.max_dedupe_ids
        for e in events:  # arrival order: lateness must not depend on batch boundaries
            if e.event_id in seen:
                result.duplicates += 1
                continue
            w = add(e.account_id, e.ts_ms)
            if w is None:
                result.late += 1
                continue
            if windows.ready:
                # Close as soon as the watermark passes, not at the end of the batch: the
                # outcome must not depend on how the stream was cut into batches.
                self._score(windows.close_ready(), result)
            if cap:
                seen[e.event_id] = e.ts_ms
                if len(seen) > cap:
                    del seen[next(iter(seen))]
            if e.ts_ms > linker.next_due_ms:
                at = e.ts_ms if self.tick_clock is None else self.tick_clock(e.ts_ms)
                if at is not None and at > linker.next_due_ms:
                    result.alerts += linker.before_event(at, emitted_ms=self._clock())
            observe(e, request_signals(e), subnet_of(e.client_ip))
            w.add(
                ts_ms=e.ts_ms,
                client_ip=e.client_ip,
                prompt_tokens=e.prompt_tokens,
                completion_tokens=e.completion_tokens,
                max_tokens=e.max_tokens,
                status=e.status,
            )
            result.accepted += 1
        self._score(self.windows.close_ready(), result)
        self._forget_seen()
        return result

    def _forget_seen(self) -> None:
        seen = self.seen
        if not seen or self.windows.max_event_ts_ms is None:
            return
        horizon = self.windows.max_event_ts_ms - self.settings.dedupe_window_ms
        stale = []
        for event_id, ts in seen.items():
            if ts >= horizon:
                break
            stale.append(event_id)
        for event_id in stale:
            del seen[event_id]

    def flush(self) -> BatchResult:
        """Close and score every open window (end of a finite input)."""
        result = BatchResult()
        self._score(self.windows.close_all(), result)
        newest = self.windows.max_event_ts_ms
        if newest is not None:
            result.alerts += self.linker.tick(newest, emitted_ms=self._clock())
        return result

    def _harvest_gate(self, account_id: str, now_ms: int) -> bool:
        """Per-account anomalies alert only with harvest-like traffic plus one more family."""
        if not self.settings.account_alerts_need_harvest:
            return True
        v = self.linker.account_view(account_id, now_ms)
        if v is None or v["harvest"] < self.settings.min_harvest:
            return False
        return max(v["young"], v["mismatch"], v["risky_ip"]) >= FAMILY_THRESHOLD

    def _score(self, closed: Iterator[tuple[int, str, AccountWindow]], out: BatchResult) -> None:
        window_ms = self.settings.window_ms
        last_end: int | None = None
        for start, account_id, state in closed:
            out.windows_closed += 1
            end = start + window_ms
            last_end = end
            features = account_features(state)
            verdict = self.detector.score(features)
            out.scores.append(verdict.score)
            if not verdict.anomalous or not self._harvest_gate(account_id, end):
                continue
            alert = build_alert(
                entity_type="account",
                entity_id=account_id,
                detector=self.detector.name,
                score=verdict.score,
                threshold=verdict.threshold,
                window_start_ms=start,
                window_end_ms=end,
                ts_ms=end,
                emitted_ms=self._clock(),
                features=features,
                baseline=verdict.baseline,
                evidence={
                    "requests": state.requests,
                    "prompt_tokens": state.prompt_tokens,
                    "completion_tokens": state.completion_tokens,
                    "distinct_ips": state.distinct_ips,
                },
            )
            if self.dedup.admit(("account", account_id), alert.severity, ts_ms=end):
                out.alerts.append(alert)
        if last_end is not None:
            self.dedup.expire(now_ms=last_end)
