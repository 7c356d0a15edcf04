from __future__ import annotations

import itertools
import math

from app.core.features.account import (
    ACCOUNT_FEATURES,
    MAX_TRACKED_IPS,
    AccountWindow,
    account_features,
)


def add(w: AccountWindow, ts: int, ip: str = "10.0.0.1", **kw: int) -> None:
    w.add(
        ts_ms=ts,
        client_ip=ip,
        prompt_tokens=kw.get("p", 100),
        completion_tokens=kw.get("c", 10),
        max_tokens=kw.get("m"),
        status=kw.get("s", 200),
    )


def test_counts_and_ratios() -> None:
    w = AccountWindow()
    add(w, 0, p=100, c=50, m=50)
    add(w, 10, p=300, c=20, m=100, s=429)
    f = account_features(w)
    assert set(f) == set(ACCOUNT_FEATURES)
    assert f["requests"] == 2
    assert f["prompt_tokens"] == 400 and f["completion_tokens"] == 70
    assert f["completion_ratio"] == 70 / 401
    assert f["max_tokens_share"] == 0.5
    assert f["error_share"] == 0.5


def test_interarrival_cv_regular_vs_bursty() -> None:
    regular = AccountWindow()
    for t in range(0, 100_000, 5_000):
        add(regular, t)
    bursty = AccountWindow()
    for t in [0, 10, 20, 30, 50_000, 50_010, 50_020, 99_000]:
        add(bursty, t)
    assert account_features(regular)["interarrival_cv"] == 0.0
    assert account_features(bursty)["interarrival_cv"] > 1.0


def test_cv_is_neutral_with_few_gaps() -> None:
    w = AccountWindow()
    add(w, 0)
    add(w, 1_000)
    assert account_features(w)["interarrival_cv"] == 1.0


def test_cv_matches_population_formula() -> None:
    ts = [0, 1_000, 3_000, 3_500, 7_000, 7_100]
    w = AccountWindow()
    for t in ts:
        add(w, t)
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    mean = sum(gaps) / len(gaps)
    std = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    assert math.isclose(account_features(w)["interarrival_cv"], std / mean, rel_tol=1e-9)


def test_distinct_ips_bounded() -> None:
    w = AccountWindow()
    for i in range(MAX_TRACKED_IPS + 100):
        add(w, i, ip=f"10.{i // 256}.{i % 256}.1")
    assert account_features(w)["distinct_ips"] == MAX_TRACKED_IPS
