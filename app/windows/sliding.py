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

from array import array
from collections.abc import Sequence

__all__ = ["DAY_MS", "HOUR_MS", "TEN_MIN_MS", "SlidingSums"]

TEN_MIN_MS = 600_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class SlidingSums:
    """Additive per-bucket vectors with a running total over ``horizon_ms``.

    All numbers live in one flat ``array('d')``: the running total, then one
    ``[start, v0, …, vn-1]`` record per non-empty bucket, oldest first. A tracked
    entity with a few buckets costs a few hundred bytes, not a Python list and a float
    object per field and bucket.
    """

    __slots__ = ("_data", "bucket_ms", "horizon_ms", "n_fields")

    def __init__(
        self, *, n_fields: int, bucket_ms: int = TEN_MIN_MS, horizon_ms: int = DAY_MS
    ) -> None:
        self.n_fields = n_fields
        self.bucket_ms = bucket_ms
        self.horizon_ms = horizon_ms
        self._data = array("d", bytes(8 * n_fields))

    def __len__(self) -> int:
        return (len(self._data) - self.n_fields) // (self.n_fields + 1)

    def add(self, ts_ms: int, values: Sequence[float]) -> None:
        start = ts_ms - ts_ms % self.bucket_ms
        d = self._data
        n = self.n_fields
        last = len(d) - n - 1  # the newest bucket's start, if any
        if last < n or d[last] < start:  # a new newest bucket
            d.append(start)
            d.extend(values)
            for i, v in enumerate(values):
                if v:
                    d[i] += v
            return
        off = last + 1 if d[last] == start else self._older_bucket(start)
        for i, v in enumerate(values):
            if v:  # most fields of a request are 0: adding 0.0 changes nothing
                d[off + i] += v
                d[i] += v

    def _older_bucket(self, start: int) -> int:
        """Offset of the values of the bucket at ``start`` (inserted if missing)."""
        # Buckets are sorted by start. Events from a partition behind the others land
        # many buckets back (a linear search here was a quarter of a worker's time).
        d = self._data
        n = self.n_fields
        stride = n + 1
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if d[n + mid * stride] < start:
                lo = mid + 1
            else:
                hi = mid
        at = n + lo * stride
        if at < len(d) and d[at] == start:
            return at + 1
        d[at:at] = array("d", [start] + [0.0] * n)
        return at + 1

    def expire(self, *, now_ms: int) -> None:
        """Drop buckets that ended before ``now_ms - horizon_ms``."""
        d = self._data
        n = self.n_fields
        stride = n + 1
        cutoff = now_ms - self.horizon_ms - self.bucket_ms
        at = n
        end = len(d)
        while at < end and d[at] <= cutoff:
            for i in range(n):
                d[i] -= d[at + 1 + i]
            at += stride
        if at == n:
            return
        del d[n:at]
        if len(d) == n:  # nothing left: no rounding residue in the total
            for i in range(n):
                d[i] = 0.0

    def view(
        self, *, now_ms: int, span_ms: int | None = None, until_now: bool = False
    ) -> list[float]:
        """Sums over buckets that overlap ``(now_ms - span_ms, now_ms]`` (default: horizon).

        The horizon view also counts buckets that start after ``now_ms`` (traffic seen
        ahead of the caller's clock) unless ``until_now``.
        """
        d = self._data
        n = self.n_fields
        stride = n + 1
        if span_ms is None or span_ms >= self.horizon_ms:
            self.expire(now_ms=now_ms)
            out = d[:n].tolist()
            if not until_now:
                return out
            at = len(d) - stride
            while at >= n and d[at] > now_ms:
                for i in range(n):
                    out[i] -= d[at + 1 + i]
                at -= stride
            return out
        out = [0.0] * n
        cutoff = now_ms - span_ms - self.bucket_ms
        at = len(d) - stride
        while at >= n:
            start = d[at]
            if start <= cutoff:
                break
            if start <= now_ms:
                for i in range(n):
                    out[i] += d[at + 1 + i]
            at -= stride
        return out

    @property
    def last_bucket_ms(self) -> int | None:
        d = self._data
        return int(d[len(d) - self.n_fields - 1]) if len(d) > self.n_fields else None
