"""The enterprise eval harness, the low-and-slow campaign and the fleet scenario.

Checks the mechanisms, not constants: shared org billing and templates, cron batches
from cloud egress in the billing country; disjoint infrastructures that share only
request shape and prompt families; five concurrent campaigns with distinct ids.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest

from app.tools.simulate.campaigns import DEFAULTS
from app.tools.simulate.plan import AccountPlan
from app.tools.simulate.run import build
from app.tools.simulate.scenario import (
    BenignSpec,
    CampaignSpec,
    HardNegativeSpec,
    Scenario,
    load_scenario,
)
from app.tools.simulate.world import CLOUD_ASNS

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _scenario(**kw: object) -> Scenario:
    base: dict[str, object] = {
        "name": "t",
        "start": datetime(2026, 3, 2, tzinfo=UTC),
        "days": 3.0,
        "seed": 5,
        "benign": BenignSpec(accounts=0),
    }
    base.update(kw)
    return Scenario.model_validate(base)


def _subnet(ip: str) -> str:
    return ip.rsplit(".", 1)[0]


@pytest.fixture(scope="module")
def enterprise() -> tuple[Scenario, list[AccountPlan]]:
    spec = HardNegativeSpec(
        kind="enterprise_eval", units=3, accounts=12, cron_every_h=4, batch_requests=10
    )
    sc = _scenario(benign=BenignSpec(accounts=0, hard_negatives=[spec]))
    plans = [p for p in build(sc, scale=1.0).plans if p.group == "enterprise_eval"]
    return sc, plans


def test_enterprise_eval_orgs_share_billing_templates_and_cloud_egress(
    enterprise: tuple[Scenario, list[AccountPlan]],
) -> None:
    sc, plans = enterprise
    orgs: dict[str | None, list[AccountPlan]] = defaultdict(list)
    for p in plans:
        orgs[p.org_id].append(p)
    assert None not in orgs and len(orgs) == 3
    assert all(len(members) == 12 for members in orgs.values())
    for members in orgs.values():
        assert len({p.payment_fingerprint for p in members}) == 1
        assert len({t for p in members for t in p.traffic.templates}) <= 6
        assert all(p.traffic.template_share >= 0.85 for p in members)
        eps = {e for p in members for e in p.endpoints}
        assert 1 <= len({_subnet(e.ip) for e in eps}) <= 2
        assert len({e.asn for e in eps}) == 1 and eps.pop().asn in CLOUD_ASNS
        for p in members:
            assert all(e.ip_kind == "datacenter" for e in p.endpoints)
            assert all(e.country == p.billing_country for e in p.endpoints)
            age_days = (sc.start_ms - p.created_ms) / DAY_MS
            assert 365 <= age_days <= 4 * 365
    # Harvest-like: reasoning-heavy, thinking on, outputs near max_tokens.
    t = plans[0].traffic
    assert t.thinking_share >= 0.8 and t.at_max_share >= 0.25
    assert set(t.categories) >= {"coding", "reasoning", "tool_use"}


def test_enterprise_eval_fires_cron_batches_across_the_org(
    enterprise: tuple[Scenario, list[AccountPlan]],
) -> None:
    sc, plans = enterprise
    org = plans[0].org_id
    ts = np.sort(np.concatenate([p.ts_ms for p in plans if p.org_id == org]))
    # Requests fall into 10-minute windows every 4 h: most 10-minute bins are empty,
    # the busy ones hold ~12 accounts x 10 requests.
    bins = np.bincount((ts - sc.start_ms) // 600_000)
    busy_bins = np.flatnonzero(bins >= 40)
    assert bins[busy_bins].sum() >= 0.9 * ts.size
    runs = 3 * 24 // 4
    assert runs - 1 <= busy_bins.size <= 2 * runs  # a run may straddle two bins
    # Every account takes part in the runs (the harness spreads load over the keys).
    for p in plans:
        if p.org_id == org:
            own = (p.ts_ms - sc.start_ms) // 600_000
            in_runs = np.isin(own, busy_bins)
            assert in_runs.mean() >= 0.8
            assert np.unique(own[in_runs]).size >= runs - 2


@pytest.fixture(scope="module")
def low_slow() -> tuple[Scenario, list[AccountPlan]]:
    sc = _scenario(campaigns=[CampaignSpec(kind="low_slow", id="ls", start_h=12, accounts=400)])
    return sc, [p for p in build(sc, scale=1.0).plans if p.campaign_id == "ls"]


def test_low_slow_rate_and_aged_accounts(low_slow: tuple[Scenario, list[AccountPlan]]) -> None:
    sc, plans = low_slow
    assert len(plans) == 400
    start = sc.start_ms + 12 * HOUR_MS
    lo, hi = DEFAULTS["low_slow"].account_age_days or (0, 0)
    for p in plans:
        assert lo <= (start - p.created_ms) / DAY_MS <= hi
        assert p.requests == 0 or int(p.ts_ms[0]) >= start
    rates = [
        p.requests / ((sc.end_ms - int(p.ts_ms[0])) / DAY_MS)
        for p in plans
        if p.requests > 3 and sc.end_ms - int(p.ts_ms[0]) >= DAY_MS
    ]
    rpd = DEFAULTS["low_slow"].requests_per_account_day
    assert float(np.mean(rates)) == pytest.approx(rpd, rel=0.15)
    # Independent (renewal) timing: no two accounts share a one-minute tick pattern.
    gaps = np.concatenate([np.diff(p.ts_ms) for p in plans if p.requests > 5])
    assert 0.6 <= gaps.std() / gaps.mean() <= 2.0


def test_low_slow_infrastructures_are_disjoint_but_share_shape_and_families(
    low_slow: tuple[Scenario, list[AccountPlan]],
) -> None:
    _, plans = low_slow
    n_infra = DEFAULTS["low_slow"].infrastructures
    by_infra: dict[tuple[str, ...], list[AccountPlan]] = defaultdict(list)
    for p in plans:
        by_infra[p.traffic.templates].append(p)
    assert len(by_infra) == n_infra
    keys = ("subnets", "asns", "pays", "ja4", "templates")
    seen: dict[str, list[set[object]]] = {k: [] for k in keys}
    for members in by_infra.values():
        eps = [e for p in members for e in p.endpoints]
        seen["subnets"].append({_subnet(e.ip) for e in eps})
        seen["asns"].append({e.asn for e in eps})
        seen["pays"].append({p.payment_fingerprint for p in members})
        seen["ja4"].append({p.tls_ja4 for p in members})
        seen["templates"].append(set(members[0].traffic.templates))
    for k, sets in seen.items():
        union = set().union(*sets)
        assert len(union) == sum(len(s) for s in sets), f"{k} shared between infrastructures"
    traffics = [m[0].traffic for m in by_infra.values()]
    assert len({t.simhash_bases for t in traffics}) == 1  # same prompt families
    assert len({(t.input_tokens, t.output_tokens, t.categories) for t in traffics}) == 1


def test_low_slow_part_of_it_bills_where_its_proxies_are(
    low_slow: tuple[Scenario, list[AccountPlan]],
) -> None:
    _, plans = low_slow
    matched = [all(e.country == p.billing_country for e in p.endpoints) for p in plans]
    share = DEFAULTS["low_slow"].matched_country_share
    assert float(np.mean(matched)) == pytest.approx(share, abs=0.1)
    assert all(
        e.ip_kind in ("residential", "mobile")
        for p, m in zip(plans, matched, strict=True)
        if m
        for e in p.endpoints
    )


def test_distinct_tls_replaces_only_the_custom_fingerprints() -> None:
    specs = [
        CampaignSpec(kind="hydra", id="a", accounts=20),
        CampaignSpec(kind="hydra", id="b", accounts=20, distinct_tls=True),
    ]
    plans = build(_scenario(campaigns=specs), scale=1.0).plans
    a = {p.tls_ja4 for p in plans if p.campaign_id == "a"}
    b = {p.tls_ja4 for p in plans if p.campaign_id == "b"}
    assert len(a) == len(b) == 2
    assert len(a & b) == 1  # the official SDK's, which everyone presents


def test_fleet_runs_five_campaigns_with_distinct_ids_and_starts() -> None:
    sc = load_scenario("fleet")
    assert sc.days == 3
    ids = [c.id for c in sc.campaigns]
    assert len(set(ids)) == len(ids) == 5
    assert {c.kind for c in sc.campaigns} == {"hydra", "slow", "low_slow", "rotating", "paraphrase"}
    assert len({c.start_h for c in sc.campaigns}) == 5
    assert {h.kind for h in sc.benign.hard_negatives} >= {"enterprise_eval", "university"}
    sim = build(sc, scale=0.01)
    for c in sc.campaigns:
        members = [p for p in sim.plans if p.campaign_id == c.id]
        assert members and all(p.group == c.kind for p in members)
        firsts = [int(p.ts_ms[0]) for p in members if p.requests]
        assert min(firsts) >= sc.start_ms + int(c.start_h * HOUR_MS)
