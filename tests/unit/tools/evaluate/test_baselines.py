from __future__ import annotations

from app.tools.evaluate.baselines import PerAccountRateBaseline, SubnetDistinctAccountsBaseline

H = 3_600_000


def test_rate_baseline_hourly_and_daily_limits() -> None:
    b = PerAccountRateBaseline(max_per_hour=3, max_per_day=5)
    rows = [(i * 60_000, "burst", "1.1.1.1") for i in range(5)]  # 5 in 5 min
    rows += [(i * 2 * H, "steady", "2.2.2.2") for i in range(8)]  # 8 in one day, 1 per 2 h
    flags = b.process(sorted(rows))
    assert [(f.entity_id, f.ts_ms) for f in flags] == [("burst", 3 * 60_000), ("steady", 10 * H)]


def test_rate_baseline_rolling_hour_forgets() -> None:
    b = PerAccountRateBaseline(max_per_hour=2, max_per_day=100)
    rows = [(i * 40 * 60_000, "a", "1.1.1.1") for i in range(10)]  # every 40 min
    assert b.process(rows) == []


def test_subnet_baseline_flags_every_account_of_a_crowded_subnet_hour() -> None:
    b = SubnetDistinctAccountsBaseline(min_accounts=3)
    rows = [
        (10, "a", "10.0.0.1"),
        (20, "b", "10.0.0.2"),
        (30, "c", "10.0.0.3"),
        (40, "d", "10.0.1.1"),
        (H + 5, "a", "10.0.0.1"),
    ]
    flags = b.process(rows) + b.flush()
    assert sorted(f.entity_id for f in flags) == ["a", "b", "c"]
    assert all(f.ts_ms == H for f in flags)
