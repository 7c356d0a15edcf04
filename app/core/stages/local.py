"""The three stages wired in-process: what ``detect`` and ``evaluate`` run.

The same stage objects the faust agents drive, connected by lists instead of topics:
events are split over ``account_partitions`` by the caller's partitioner (Kafka's
default murmur2 of the account id in ``hydrawatch detect``, as a producer keying by
account does), every account partition's records reach every pivot partition, and the
pivot partitions' links reach the campaign stage. Nothing here reads a wall clock
except ``emitted_ms``.

``deliver`` lets a test choose the order in which records cross between stages (and so
emulate any number of workers, fetch timings and batch sizes): the output must not
change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from app.core.campaigns.values import F_REQ
from app.core.events import AlertEvent, RequestEvent
from app.core.settings import DetectionSettings
from app.core.stages.account import AccountOutput, AccountStage
from app.core.stages.campaign import CampaignStage
from app.core.stages.ingest import Ingested, decode_values
from app.core.stages.pivot import PivotStage
from app.core.verdicts import VerdictBook
from app.core.windows.sliding import TEN_MIN_MS

__all__ = ["LocalTopology", "StageCounts"]


@dataclass(slots=True)
class StageCounts:
    accepted: int = 0
    late: int = 0
    duplicates: int = 0
    windows_closed: int = 0
    pivot_late: int = 0
    observations: int = 0
    #: 10-minute bucket end → requests the account stages applied there (from the
    #: population rows they send: each applied event counted once)
    observed_requests: dict[int, int] = field(default_factory=dict)
    links: int = 0
    scores: list[float] = field(default_factory=list)


def _zero() -> int:
    return 0


class LocalTopology:
    """Account stages → pivot stages → campaign stage, in one process."""

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        account_partitions: int,
        clock: Callable[[], int] | None = None,
        deliver: Callable[[list[object]], list[object]] | None = None,
        verdicts: VerdictBook | None = None,
    ) -> None:
        self.settings = settings
        q_n = settings.pivot_partitions
        #: the verdicts every stage consults (add to it between calls)
        self.verdicts = verdicts if verdicts is not None else VerdictBook()
        book = self.verdicts
        self.accounts = [
            AccountStage(settings, partition=p, pivot_partitions=q_n, verdicts=book)
            for p in range(account_partitions)
        ]
        self.pivots = [
            PivotStage(settings, partition=q, upstream_partitions=account_partitions, verdicts=book)
            for q in range(q_n)
        ]
        self.campaign = CampaignStage(settings, upstream_partitions=q_n, verdicts=book)
        self._clock = clock if clock is not None else _zero
        self._deliver = deliver
        self.counts = StageCounts()
        self.max_ts_ms: int | None = None

    def _order(self, records: list[object]) -> list[object]:
        return records if self._deliver is None else self._deliver(records)

    def process(self, batches: Sequence[tuple[int, Sequence[RequestEvent]]]) -> list[AlertEvent]:
        """Apply ``(account partition, events)`` batches; the alerts they produced."""
        alerts: list[AlertEvent] = []
        outs: list[AccountOutput] = []
        for p, events in batches:
            for e in events:
                if self.max_ts_ms is None or e.ts_ms > self.max_ts_ms:
                    self.max_ts_ms = e.ts_ms
            out = self.accounts[p].process(events, emitted_ms=self._clock())
            outs.append(out)
        return alerts + self._downstream(outs)

    def _downstream(self, outs: list[AccountOutput]) -> list[AlertEvent]:
        c = self.counts
        alerts: list[AlertEvent] = []
        records: list[object] = []
        for out in outs:
            alerts += out.alerts
            c.accepted += out.accepted
            c.late += out.late
            c.duplicates += out.duplicates
            c.windows_closed += out.windows_closed
            c.scores += out.scores
            for q in sorted(out.pivot_inputs):
                rec = out.pivot_inputs[q]
                c.observations += len(rec.obs)
                seen = c.observed_requests
                for row in rec.totals:  # [bucket start, sums...]
                    end = row[0] + TEN_MIN_MS
                    seen[end] = seen.get(end, 0) + row[1 + F_REQ]
                records.append((q, rec))
        for q, rec in self._order(records):  # type: ignore[misc]
            self.pivots[q].receive(rec)
        links: list[object] = []
        for stage in self.pivots:
            pout = stage.advance(emitted_ms=self._clock())
            alerts += pout.alerts
            c.pivot_late += pout.late
            if pout.links is not None:
                c.links += sum(len(t.links) for t in pout.links.ticks)
                links.append(pout.links)
        for link_rec in self._order(links):
            self.campaign.receive(link_rec)  # type: ignore[arg-type]
        alerts += self.campaign.advance(emitted_ms=self._clock()).alerts
        return alerts

    def handle_values(
        self, values: Sequence[bytes | None], partitions: Sequence[int], *, now_ms: int
    ) -> tuple[list[AlertEvent], Ingested]:
        """Message values (the worker's decode path, no skew filter) → alerts, decoded."""
        ing = decode_values(
            values,
            max_message_bytes=8 * 1024 * 1024,
            max_batch_events=50_000,
            max_future_skew_ms=None,
            now_ms=now_ms,
        )
        by_p: dict[int, list[RequestEvent]] = {}
        for p, events in zip(partitions, ing.events, strict=True):
            by_p.setdefault(p, []).extend(events)
        return self.process(sorted(by_p.items())), ing

    def sizes(self) -> dict[str, int]:
        """Tracked state, summed over partitions."""
        out: dict[str, int] = {}
        parts: list[dict[str, int]] = [a.sizes() for a in self.accounts]
        parts += [q.sizes() for q in self.pivots]
        parts.append(self.campaign.sizes())
        for sizes in parts:
            for k, v in sizes.items():
                out[k] = out.get(k, 0) + v
        return out

    def finish(self) -> list[AlertEvent]:
        """End of input: close windows and run every tick up to the newest event."""
        if self.max_ts_ms is None:
            return []
        tick = self.settings.linkage_tick_ms
        until = self.max_ts_ms - self.max_ts_ms % tick + tick
        outs = [a.flush(until_ms=until, emitted_ms=self._clock()) for a in self.accounts]
        return self._downstream(outs)

    def run(self, batches: Iterable[tuple[int, Sequence[RequestEvent]]]) -> list[AlertEvent]:
        """Every batch, one at a time, then :meth:`finish`."""
        alerts: list[AlertEvent] = []
        for b in batches:
            alerts += self.process([b])
        return alerts + self.finish()
