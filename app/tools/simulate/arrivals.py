"""Arrival processes in event time (numpy, deterministic for a generator).

>>> rng = np.random.default_rng(0)
>>> ts = renewal_arrivals(rng, start_ms=0, end_ms=10 * 86_400_000, rate_per_day=50.0, cv=1.0)
>>> 400 < ts.size < 600 and bool(np.all(np.diff(ts) >= 0))
True
>>> periodic_arrivals(rng, start_ms=0, end_ms=10_000, period_ms=2_500, jitter_ms=0).tolist()
[0, 2500, 5000, 7500]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["HOUR_MS", "intensity_grid", "periodic_arrivals", "renewal_arrivals"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def intensity_grid(
    *,
    start_ms: int,
    end_ms: int,
    rate_per_day: float,
    hourly: Sequence[float] | None = None,
    weekday: Sequence[float] | None = None,
    tz_offset_h: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(hour boundaries in ms, cumulative expected requests at each boundary)."""
    first = start_ms - start_ms % HOUR_MS
    bounds = np.arange(first, end_ms + HOUR_MS, HOUR_MS, dtype=np.int64)
    local_h = ((bounds[:-1] + int(tz_offset_h * HOUR_MS)) // HOUR_MS).astype(np.int64)
    rate = np.full(local_h.size, rate_per_day / 24.0)
    if hourly is not None:
        rate *= np.asarray(hourly)[local_h % 24]
    if weekday is not None:
        # 1970-01-01 was a Thursday; day index 0 = Monday.
        rate *= np.asarray(weekday)[(local_h // 24 + 3) % 7]
    # Partial first/last hour.
    widths = np.diff(np.clip(bounds, start_ms, end_ms)) / HOUR_MS
    cum = np.concatenate([[0.0], np.cumsum(rate * widths)])
    return np.clip(bounds, start_ms, end_ms), cum


def renewal_arrivals(
    rng: np.random.Generator,
    *,
    start_ms: int,
    end_ms: int,
    rate_per_day: float,
    cv: float = 1.0,
    hourly: Sequence[float] | None = None,
    weekday: Sequence[float] | None = None,
    tz_offset_h: float = 0.0,
) -> np.ndarray:
    """Gamma renewal process (inter-arrival CV ``cv``) time-warped by a daily/weekly profile.

    Gaps are drawn in operational time (one expected request per unit) and mapped
    back through the cumulative intensity, so the profile shapes the rate while
    ``cv`` shapes the burstiness.
    """
    if end_ms <= start_ms or rate_per_day <= 0:
        return np.zeros(0, dtype=np.int64)
    bounds, cum = intensity_grid(
        start_ms=start_ms,
        end_ms=end_ms,
        rate_per_day=rate_per_day,
        hourly=hourly,
        weekday=weekday,
        tz_offset_h=tz_offset_h,
    )
    total = cum[-1]
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    shape = 1.0 / max(cv, 0.05) ** 2
    chunks = []
    # Stationary start: the first point falls uniformly inside a length-biased gap.
    pos = rng.random() * rng.gamma(shape + 1.0, 1.0 / shape)
    n = max(int(total * 1.2) + 16, 16)
    while pos < total:
        gaps = rng.gamma(shape, 1.0 / shape, size=n)
        points = pos + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        chunks.append(points[points < total])
        pos = points[-1] + gaps[-1]
    op = np.concatenate(chunks) if chunks else np.zeros(0)
    return np.interp(op, cum, bounds.astype(np.float64)).astype(np.int64)


def periodic_arrivals(
    rng: np.random.Generator,
    *,
    start_ms: int,
    end_ms: int,
    period_ms: float,
    jitter_ms: float = 0.0,
) -> np.ndarray:
    """Metronome arrivals every ``period_ms`` from ``start_ms``, each shifted by U(0, jitter)."""
    if end_ms <= start_ms:
        return np.zeros(0, dtype=np.int64)
    base = np.arange(float(start_ms), float(end_ms), float(period_ms))
    if jitter_ms > 0:
        base = base + rng.uniform(0.0, jitter_ms, size=base.size)
    ts = np.sort(base.astype(np.int64))
    return ts[ts < end_ms]
