"""Tumbling event-time windows keyed by entity, closed by a watermark.

The watermark is the largest event time seen minus ``grace_ms``. A window
``[start, start + window_ms)`` closes once the watermark reaches its end; an event
whose window has already closed is *late* and is counted, not added.

>>> w = TumblingWindows(window_ms=1_000, grace_ms=100, factory=list)
>>> w.add("a", 50).append(50)
>>> w.add("a", 1_200).append(1_200)
>>> w.watermark_ms, [(s, k) for s, k, _ in w.close_ready()]
(1100, [(0, 'a')])
>>> w.add("a", 900) is None    # its window closed: late
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["TumblingWindows", "window_start"]

K = TypeVar("K")
S = TypeVar("S")

_NO_WATERMARK = -(2**62)


def window_start(ts_ms: int, window_ms: int) -> int:
    """Start of the tumbling window holding ``ts_ms`` (aligned on the epoch)."""
    return ts_ms - ts_ms % window_ms


class TumblingWindows(Generic[K, S]):
    """Open windows per key, grouped by window start so closing is per bucket."""

    def __init__(
        self,
        *,
        window_ms: int,
        grace_ms: int,
        factory: Callable[[], S],
        external_clock: bool = False,
    ) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        #: With ``external_clock`` the caller moves event time (:meth:`advance_to`) and
        #: ``add`` does not: e.g. a watermark that must not follow one outlier.
        self.external_clock = external_clock
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self._factory = factory
        self._buckets: dict[int, dict[K, S]] = {}
        self._max_ts_ms = _NO_WATERMARK
        self.late_events = 0
        #: start of the oldest open window (None: none open)
        self._first_start: int | None = None

    @property
    def ready(self) -> bool:
        """Has the watermark passed the end of the oldest open window?"""
        first = self._first_start
        return first is not None and first + self.window_ms <= self._max_ts_ms - self.grace_ms

    @property
    def watermark_ms(self) -> int:
        """Largest event time seen minus the grace period."""
        return self._max_ts_ms - self.grace_ms

    @property
    def max_event_ts_ms(self) -> int | None:
        return None if self._max_ts_ms == _NO_WATERMARK else self._max_ts_ms

    @property
    def open_windows(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def add(self, key: K, ts_ms: int) -> S | None:
        """The open window state for ``key`` at ``ts_ms``, or None if that window closed."""
        start = ts_ms - ts_ms % self.window_ms
        if start + self.window_ms <= self.watermark_ms:
            self.late_events += 1
            return None
        if ts_ms > self._max_ts_ms and not self.external_clock:
            self._max_ts_ms = ts_ms
        bucket = self._buckets.get(start)
        if bucket is None:
            bucket = self._buckets[start] = {}
            if self._first_start is None or start < self._first_start:
                self._first_start = start
        state = bucket.get(key)
        if state is None:
            state = bucket[key] = self._factory()
        return state

    def advance_to(self, max_event_ts_ms: int) -> None:
        """Move the newest event time (never back); the watermark follows."""
        if max_event_ts_ms > self._max_ts_ms:
            self._max_ts_ms = max_event_ts_ms

    def close_ready(self) -> Iterator[tuple[int, K, S]]:
        """Pop every window whose end the watermark has reached, oldest first."""
        wm = self.watermark_ms
        for start in sorted(s for s in self._buckets if s + self.window_ms <= wm):
            bucket = self._buckets.pop(start)
            self._first_start = min(self._buckets, default=None)
            for key, state in bucket.items():
                yield start, key, state

    def close_all(self) -> Iterator[tuple[int, K, S]]:
        """Pop every open window (end of input), oldest first."""
        for start in sorted(self._buckets):
            bucket = self._buckets.pop(start)
            self._first_start = min(self._buckets, default=None)
            for key, state in bucket.items():
                yield start, key, state
