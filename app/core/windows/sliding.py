"""Sliding event-time views (10 min, 1 h, 24 h) over sparse tumbling buckets.

Each entity keeps only its non-empty buckets; the longest view is kept as a running
total (added on insert, subtracted on expiry), shorter views sum the newest buckets.
Values are non-negative integers (counts, token sums, scores in fixed units): exact at
any size, and 4 bytes each until a running total outgrows 32 bits.

>>> w = SlidingSums(n_fields=2, bucket_ms=600_000, horizon_ms=86_400_000)
>>> w.add(0, (1, 5)); w.add(700_000, (1, 1))
>>> w.view(now_ms=1_300_000, span_ms=600_000), w.view(now_ms=1_300_000)
([1, 1], [2, 6])
>>> w.view(now_ms=86_400_000 + 600_000)     # the first bucket left the 24 h horizon
[1, 1]
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

__all__ = ["DAY_MS", "HOUR_MS", "TEN_MIN_MS", "SlidingSums"]

TEN_MIN_MS = 600_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
#: Past this a window's numbers move from 32-bit to 64-bit storage.
_INT32_MAX = 2**31 - 1


_ZEROS: dict[tuple[str, int], array[int]] = {}


def _zeros(typecode: str, n: int) -> array[int]:
    z = _ZEROS.get((typecode, n))
    if z is None:
        z = _ZEROS[(typecode, n)] = array(typecode, [0] * n)
    return z


class SlidingSums:
    """Additive per-bucket integer vectors with a running total over ``horizon_ms``.

    All numbers live in one flat ``array('i')``: the running total, then one
    ``[bucket, v0, …, vn-1]`` record per non-empty bucket, oldest first, where
    ``bucket`` is the bucket's start divided by ``bucket_ms``. A tracked entity with a
    few buckets costs a few hundred bytes, not a Python list and a number object per
    field and bucket. Values must be non-negative integers; a total that would not fit
    in 32 bits widens the entity's array to 64 bits (once), so nothing overflows.
    """

    __slots__ = ("_data", "bucket_ms", "horizon_ms", "n_fields")

    def __init__(
        self, *, n_fields: int, bucket_ms: int = TEN_MIN_MS, horizon_ms: int = DAY_MS
    ) -> None:
        self.n_fields = n_fields
        self.bucket_ms = bucket_ms
        self.horizon_ms = horizon_ms
        self._data = array("i", bytes(4 * n_fields))

    def __len__(self) -> int:
        return (len(self._data) - self.n_fields) // (self.n_fields + 1)

    @property
    def itemsize(self) -> int:
        """Bytes per stored number: 4, or 8 once a total outgrew 32 bits."""
        return self._data.itemsize

    def _widen(self) -> array[int]:
        self._data = array("q", self._data)
        return self._data

    def add(self, ts_ms: int, values: Sequence[int]) -> None:
        bucket = ts_ms // self.bucket_ms
        d = self._data
        n = self.n_fields
        last = len(d) - n - 1  # the newest bucket's record, if any
        if last < n or d[last] < bucket:  # a new newest bucket
            if bucket > _INT32_MAX and d.itemsize == 4:
                d = self._widen()
            off = len(d) + 1
            d.append(bucket)
            d.extend(_zeros(d.typecode, n))
        elif d[last] == bucket:
            off = last + 1
        else:
            off = self._older_bucket(bucket)
            d = self._data
        for i, v in enumerate(values):
            if v:  # most fields of a request are 0: adding 0 changes nothing
                try:
                    d[i] += v  # the total first: it bounds every bucket
                except OverflowError:
                    d = self._widen()
                    d[i] += v
                d[off + i] += v

    def _older_bucket(self, bucket: int) -> int:
        """Offset of the values of ``bucket`` (inserted if missing)."""
        # Buckets are sorted. Events from a partition behind the others land many
        # buckets back (a linear search here was a quarter of a worker's time).
        d = self._data
        n = self.n_fields
        stride = n + 1
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if d[n + mid * stride] < bucket:
                lo = mid + 1
            else:
                hi = mid
        at = n + lo * stride
        if at < len(d) and d[at] == bucket:
            return at + 1
        if bucket > _INT32_MAX and d.itemsize == 4:
            d = self._widen()
        d[at:at] = array(d.typecode, [bucket]) + _zeros(d.typecode, n)
        return at + 1

    def expire(self, *, now_ms: int) -> None:
        """Drop buckets that ended before ``now_ms - horizon_ms``."""
        d = self._data
        n = self.n_fields
        stride = n + 1
        cutoff = (now_ms - self.horizon_ms - self.bucket_ms) // self.bucket_ms
        at = n
        end = len(d)
        while at < end and d[at] <= cutoff:
            for i in range(n):
                d[i] -= d[at + 1 + i]
            at += stride
        if at > n:
            del d[n:at]

    def view(
        self, *, now_ms: int, span_ms: int | None = None, until_now: bool = False
    ) -> list[int]:
        """Sums over buckets that overlap ``(now_ms - span_ms, now_ms]`` (default: horizon).

        The horizon view also counts buckets that start after ``now_ms`` (traffic seen
        ahead of the caller's clock) unless ``until_now``.
        """
        d = self._data
        n = self.n_fields
        stride = n + 1
        now = now_ms // self.bucket_ms  # a bucket starts at or before now_ms iff <= now
        if span_ms is None or span_ms >= self.horizon_ms:
            self.expire(now_ms=now_ms)
            out = d[:n].tolist()
            if not until_now:
                return out
            at = len(d) - stride
            while at >= n and d[at] > now:
                for i in range(n):
                    out[i] -= d[at + 1 + i]
                at -= stride
            return out
        out = [0] * n
        cutoff = (now_ms - span_ms - self.bucket_ms) // self.bucket_ms
        at = len(d) - stride
        while at >= n:
            bucket = d[at]
            if bucket <= cutoff:
                break
            if bucket <= now:
                for i in range(n):
                    out[i] += d[at + 1 + i]
            at -= stride
        return out

    @property
    def last_bucket_ms(self) -> int | None:
        """Start of the newest non-empty bucket."""
        d = self._data
        return d[len(d) - self.n_fields - 1] * self.bucket_ms if len(d) > self.n_fields else None
