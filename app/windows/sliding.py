"""Sliding event-time views (10 min, 1 h, 24 h) over sparse tumbling buckets.

Each entity keeps only its non-empty buckets; the longest view is kept as a running
total (added on insert, subtracted on expiry), shorter views sum the newest buckets.

>>> w = SlidingSums(n_fields=2, bucket_ms=600_000, horizon_ms=86_400_000)
>>> w.add(0, (1.0, 5.0)); w.add(700_000, (1.0, 1.0))
>>> w.view(now_ms=1_300_000, span_ms=600_000), w.view(now_ms=1_300_000)
([1.0, 1.0], [2.0, 6.0])
>>> w.view(now_ms=86_400_000 + 600_000)     # the first bucket left the 24 h horizon
[1.0, 1.0]
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from operator import add, itemgetter

__all__ = ["DAY_MS", "HOUR_MS", "TEN_MIN_MS", "SlidingSums"]

TEN_MIN_MS = 600_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


_START = itemgetter(0)


class SlidingSums:
    """Additive per-bucket vectors with a running total over ``horizon_ms``."""

    __slots__ = ("_buckets", "_total", "bucket_ms", "horizon_ms", "n_fields")

    def __init__(
        self, *, n_fields: int, bucket_ms: int = TEN_MIN_MS, horizon_ms: int = DAY_MS
    ) -> None:
        self.n_fields = n_fields
        self.bucket_ms = bucket_ms
        self.horizon_ms = horizon_ms
        self._buckets: deque[tuple[int, list[float]]] = deque()
        self._total = [0.0] * n_fields

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, ts_ms: int, values: Sequence[float]) -> None:
        start = ts_ms - ts_ms % self.bucket_ms
        b = self._buckets
        if b and b[-1][0] == start:
            vec = b[-1][1]
        elif not b or b[-1][0] < start:
            vec = list(values)  # a new bucket starts as a copy of the first vector
            b.append((start, vec))
            self._total[:] = map(add, self._total, values)
            return
        else:  # late event inside the horizon: find (or insert) its bucket
            vec = self._older_bucket(start)
        vec[:] = map(add, vec, values)
        self._total[:] = map(add, self._total, values)

    def _older_bucket(self, start: int) -> list[float]:
        # Buckets are sorted by start. Events from a partition behind the others land
        # many buckets back (a linear search here was a quarter of a worker's time).
        b = self._buckets
        i = bisect_left(b, start, key=_START)
        if i < len(b) and b[i][0] == start:
            return b[i][1]
        vec = [0.0] * self.n_fields
        b.insert(i, (start, vec))
        return vec

    def expire(self, *, now_ms: int) -> None:
        """Drop buckets that ended before ``now_ms - horizon_ms``."""
        b = self._buckets
        cutoff = now_ms - self.horizon_ms
        total = self._total
        while b and b[0][0] + self.bucket_ms <= cutoff:
            _, vec = b.popleft()
            for i, v in enumerate(vec):
                total[i] -= v
        if not b:
            self._total = [0.0] * self.n_fields

    def view(
        self, *, now_ms: int, span_ms: int | None = None, until_now: bool = False
    ) -> list[float]:
        """Sums over buckets that overlap ``(now_ms - span_ms, now_ms]`` (default: horizon).

        The horizon view also counts buckets that start after ``now_ms`` (traffic seen
        ahead of the caller's clock) unless ``until_now``.
        """
        if span_ms is None or span_ms >= self.horizon_ms:
            self.expire(now_ms=now_ms)
            b = self._buckets
            if not until_now or not b or b[-1][0] <= now_ms:
                return list(self._total)
            out = list(self._total)
            for start, vec in reversed(b):
                if start <= now_ms:
                    break
                for i, v in enumerate(vec):
                    out[i] -= v
            return out
        out = [0.0] * self.n_fields
        cutoff = now_ms - span_ms
        for start, vec in reversed(self._buckets):
            if start + self.bucket_ms <= cutoff:
                break
            if start > now_ms:
                continue
            for i, v in enumerate(vec):
                out[i] += v
        return out

    @property
    def last_bucket_ms(self) -> int | None:
        return self._buckets[-1][0] if self._buckets else None
