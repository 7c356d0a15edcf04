"""A downstream stage's event-time clock: the minimum over its upstream partitions.

Every upstream partition reports, with each record it sends, how far its own event
time has advanced (a watermark). A stage may only act on event time ``T`` once *every*
upstream partition has passed ``T``: then nothing at or before ``T`` is still to come,
whatever the deployment, fetch timing or batch sizes. The clock is undefined until
every upstream partition has reported once.

Idle upstream partitions: an upstream that has nothing to read (caught up) and has
sent nothing for a while is reported *idle* by the runtime
(:meth:`UpstreamClock.mark_idle`): it is left out of the minimum so it cannot stall the
clock forever. It rejoins with its next record; records it then sends at or behind the
clock are late for this stage (counted, not applied). Determinism therefore holds
while no upstream partition goes idle; the idle rule trades it for liveness only when
a partition has no traffic at all.

>>> c = UpstreamClock(2)
>>> c.update(0, 100); c.now_ms is None
True
>>> c.update(1, 50); c.now_ms
50
>>> c.mark_idle(1); c.now_ms
100
"""

from __future__ import annotations

__all__ = ["UpstreamClock"]


class UpstreamClock:
    """Minimum of the latest watermarks of ``upstreams`` partitions (idle ones aside)."""

    def __init__(self, upstreams: int) -> None:
        if upstreams < 1:
            raise ValueError("a stage needs at least one upstream partition")
        self.upstreams = upstreams
        self.marks: dict[int, int] = {}
        self.idle: set[int] = set()
        self._last: int | None = None

    def update(self, source: int, watermark_ms: int | None) -> None:
        """Record ``source``'s watermark (watermarks never go back)."""
        if not 0 <= source < self.upstreams:
            raise ValueError(f"upstream partition {source} outside 0..{self.upstreams - 1}")
        self.idle.discard(source)
        if watermark_ms is None:
            return
        old = self.marks.get(source)
        if old is None or watermark_ms > old:
            self.marks[source] = watermark_ms

    def mark_idle(self, source: int) -> None:
        self.idle.add(source)

    @property
    def now_ms(self) -> int | None:
        """The clock (never goes back); None until every upstream was heard from."""
        heard = len(self.marks) + sum(1 for p in self.idle if p not in self.marks)
        if heard < self.upstreams or not self.marks:
            return self._last
        live = [t for p, t in self.marks.items() if p not in self.idle]
        # every upstream idle: nothing is in flight, the minimum of all is safe
        now = min(live) if live else min(self.marks.values())
        if self._last is None or now > self._last:
            self._last = now
        return self._last
