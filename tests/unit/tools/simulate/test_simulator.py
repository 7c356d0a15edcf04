"""Simulator statistics against the ServeGen-derived parameters, campaign volume, determinism.

Stated bounds (also in docs/evaluation.md):
- ordinary benign accounts: sd of log(requests per week) among accounts with >= 10
  requests within [0.6, 1.0] x ServeGen's per-client log-rate sigma; top 1% of accounts
  carry >= 20% of requests and top 10% >= 60% (ServeGen: top 10 of 162 clients carry 63%);
- median inter-arrival CV of accounts with >= 50 requests within [0.8, 1.5] x ServeGen's
  median per-client CV;
- campaign accounts: requests per active day within 10% of the configured rate.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import orjson
import pytest

from app.tools.simulate.calibrate import load_params
from app.tools.simulate.campaigns import DEFAULTS
from app.tools.simulate.run import build, write_files
from app.tools.simulate.scenario import load_scenario, scenario_names

SERVEGEN = load_params()["servegen"]


@pytest.fixture(scope="module")
def week() -> object:
    return build(load_scenario("hydra").with_overrides(days=7), scale=0.02)


def _regular_counts(sim: object) -> np.ndarray:
    return np.array([p.requests for p in sim.plans if p.group == "regular"])  # type: ignore[attr-defined]


def test_benign_volume_is_heavy_tailed_like_servegen(week: object) -> None:
    counts = _regular_counts(week)
    sigma = SERVEGEN["client_rate_lognormal"]["sigma"]
    active = counts[counts >= 10]
    assert 0.6 * sigma <= np.log(active).std() <= 1.0 * sigma
    top = np.sort(counts)[::-1]
    assert top[: len(top) // 100].sum() / top.sum() >= 0.20
    assert top[: len(top) // 10].sum() / top.sum() >= 0.60
    assert (counts == 0).mean() > 0.05  # a long tail of tiny accounts


def test_benign_burstiness_matches_servegen_cv(week: object) -> None:
    cvs = []
    for p in week.plans:  # type: ignore[attr-defined]
        if p.group == "regular" and p.requests >= 50:
            gaps = np.diff(p.ts_ms)
            cvs.append(gaps.std() / gaps.mean())
    median_cv = SERVEGEN["client_cv_quantiles"][2]
    assert 0.8 * median_cv <= float(np.median(cvs)) <= 1.5 * median_cv


@pytest.mark.parametrize("name", ["hydra", "slow", "rotating", "single"])
def test_campaign_volume_per_account_per_day(name: str) -> None:
    sc = load_scenario(name)
    sim = build(sc, scale=0.01)
    rpd = sc.campaigns[0].requests_per_account_day or DEFAULTS[name].requests_per_account_day
    rates = []
    for p in sim.plans:
        if p.campaign_id and p.requests > 3:
            span_days = (sc.end_ms - int(p.ts_ms[0])) / 86_400_000
            if span_days >= 1:
                rates.append(p.requests / span_days)
    assert rates
    assert float(np.mean(rates)) == pytest.approx(rpd, rel=0.10)


def test_hydra_accounts_at_full_scale_defaults() -> None:
    assert DEFAULTS["hydra"].accounts == 25_000
    assert DEFAULTS["hydra"].requests_per_account_day == 26


def _digest(tmp: Path, seed: int) -> tuple[str, str]:
    tmp.mkdir()
    sc = load_scenario("mixed").with_overrides(seed=seed, days=1.5)
    write_files(build(sc, scale=0.003), tmp / f"e{seed}.jsonl.gz", tmp / f"l{seed}.csv")
    import gzip

    ev = hashlib.sha256(gzip.decompress((tmp / f"e{seed}.jsonl.gz").read_bytes())).hexdigest()
    lab = hashlib.sha256((tmp / f"l{seed}.csv").read_bytes()).hexdigest()
    return ev, lab


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = _digest(tmp_path / "a", 7)
    b = _digest(tmp_path / "b", 7)
    c = _digest(tmp_path / "c", 8)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_labels_and_events_agree(tmp_path: Path) -> None:
    sc = load_scenario("mixed").with_overrides(days=2)
    sim = build(sc, scale=0.003)
    summary = write_files(sim, tmp_path / "e.jsonl", tmp_path / "l.csv")
    with (tmp_path / "l.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    campaign = [r for r in rows if r["campaign_id"]]
    assert campaign and all(r["campaign_id"] == "mixed-1" for r in campaign)
    firsts = [int(r["campaign_first_ms"]) for r in campaign if r["campaign_first_ms"]]
    assert min(firsts) >= sc.start_ms + 24 * 3_600_000  # mixed campaign starts at hour 24
    assert all(not r["campaign_first_ms"] for r in rows if not r["campaign_id"])
    events = [orjson.loads(line) for line in (tmp_path / "e.jsonl").read_bytes().splitlines()]
    assert summary.events == len(events)
    members = {r["account_id"] for r in campaign}
    assert summary.campaign_accounts == len(members)
    # every member with a first campaign time sent at least one campaign request; the
    # campaign's requests are some of its members' (they also send cover traffic)
    assert len(firsts) <= summary.campaign_events
    assert summary.campaign_events <= sum(e["account_id"] in members for e in events)
    assert {r["group"] for r in rows} >= {"regular", "corp_nat", "university", "mixed"}


@pytest.mark.parametrize("name", scenario_names())
def test_every_shipped_scenario_loads(name: str) -> None:
    sc = load_scenario(name)
    assert sc.name == name and sc.campaigns and sc.benign.hard_negatives


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="shipped"):
        load_scenario("nope")
