from __future__ import annotations

import numpy as np
import pytest

from app.tools.simulate.arrivals import DAY_MS, HOUR_MS, periodic_arrivals, renewal_arrivals


@pytest.mark.parametrize("cv", [0.5, 1.0, 3.0])
def test_renewal_rate_and_burstiness(cv: float) -> None:
    rng = np.random.default_rng(3)
    ts = renewal_arrivals(rng, start_ms=0, end_ms=200 * DAY_MS, rate_per_day=200.0, cv=cv)
    assert ts.size == pytest.approx(200 * 200, rel=0.1 if cv < 2 else 0.25)
    gaps = np.diff(ts)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.2)
    assert np.all(gaps >= 0)


def test_profile_shapes_the_rate() -> None:
    rng = np.random.default_rng(4)
    hourly = [0.1] * 12 + [1.9] * 12  # quiet mornings, busy afternoons (local time)
    ts = renewal_arrivals(
        rng, start_ms=0, end_ms=100 * DAY_MS, rate_per_day=500.0, hourly=hourly, tz_offset_h=0
    )
    afternoon = np.mean((ts // HOUR_MS) % 24 >= 12)
    assert afternoon == pytest.approx(0.95, abs=0.02)
    shifted = renewal_arrivals(
        rng, start_ms=0, end_ms=100 * DAY_MS, rate_per_day=500.0, hourly=hourly, tz_offset_h=12
    )
    assert np.mean((shifted // HOUR_MS) % 24 >= 12) == pytest.approx(0.05, abs=0.02)


def test_periodic_with_jitter_stays_in_range() -> None:
    rng = np.random.default_rng(5)
    ts = periodic_arrivals(
        rng, start_ms=1_000, end_ms=1_000 + 3_600_000, period_ms=60_000, jitter_ms=800
    )
    assert ts.size == 60
    offsets = (ts - 1_000) % 60_000
    assert offsets.max() < 800


def test_empty_ranges() -> None:
    rng = np.random.default_rng(0)
    assert renewal_arrivals(rng, start_ms=10, end_ms=10, rate_per_day=5).size == 0
    assert renewal_arrivals(rng, start_ms=0, end_ms=10, rate_per_day=0).size == 0
    assert periodic_arrivals(rng, start_ms=5, end_ms=1, period_ms=1).size == 0
