"""Attacker mechanisms and benign look-alikes of issue 15, checked on generated traffic.

Each test states the mechanism's property and checks it for several seeds (the
detector is scored on traffic it has never seen, so no test pins one seed's output);
``test_seeds_change_the_traffic_not_the_properties`` checks that the seeds do differ.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.tools.evaluate.labels import load_labels
from app.tools.evaluate.score import GroundTruth, score_flags
from app.tools.simulate.campaigns import campaign_accounts
from app.tools.simulate.emit import Simulation, iter_events, write_labels
from app.tools.simulate.plan import AccountPlan
from app.tools.simulate.run import build
from app.tools.simulate.scenario import (
    BenignSpec,
    CampaignSpec,
    HardNegativeSpec,
    Scenario,
    load_scenario,
)
from app.tools.simulate.tools import CODING_AGENT, POPULAR_TOOLS
from app.tools.simulate.world import CLOUD_ASNS, World

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SEEDS = (3, 29, 101)


def _scenario(seed: int, **kw: Any) -> Scenario:
    base: dict[str, Any] = {
        "name": "t",
        "start": datetime(2026, 3, 2, tzinfo=UTC),
        "days": 2.0,
        "seed": seed,
        "benign": BenignSpec(accounts=0),
    }
    base.update(kw)
    return Scenario.model_validate(base)


def _campaign(seed: int, spec: CampaignSpec, **kw: Any) -> tuple[Scenario, list[AccountPlan]]:
    sc = _scenario(seed, campaigns=[spec], **kw)
    return sc, [p for p in build(sc, scale=1.0).plans if p.campaign_id == spec.id]


def _events(plans: list[AccountPlan], seed: int) -> Iterator[dict[str, Any]]:
    for event, _, _ in iter_events(Simulation(plans=plans, seed=seed)):
        yield event


def _subnet(ip: str) -> str:
    return ip.rsplit(".", 1)[0]


# ---- attacker mechanisms -------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_bought_aged_accounts(seed: int) -> None:
    spec = CampaignSpec(
        kind="hydra", id="aged", start_h=12, accounts=60, account_age_days=(200.0, 900.0)
    )
    sc, plans = _campaign(seed, spec)
    start = sc.start_ms + 12 * HOUR_MS
    assert len(plans) == 60
    ages = np.array([(start - p.created_ms) / DAY_MS for p in plans])
    assert ages.min() >= 200 and ages.max() <= 900
    assert ages.max() - ages.min() > 300  # spread over the range, not one batch
    assert all(p.requests == 0 or int(p.ts_ms[0]) >= start for p in plans)


@pytest.mark.parametrize("seed", SEEDS)
def test_residential_proxies_in_the_billing_country(seed: int) -> None:
    spec = CampaignSpec(
        kind="hydra",
        id="res",
        start_h=0,
        accounts=80,
        ip_kinds=["residential"],
        matched_country_share=1.0,
        proxy_countries=4,
        datacenter_subnets=0,
        timing="poisson",
    )
    _, plans = _campaign(seed, spec, days=1.0)
    events = list(_events(plans, seed))
    assert len(events) > 500
    assert all(e["ip_kind"] == "residential" for e in events)
    assert all(e["country"] == e["billing_country"] for e in events)
    # Geo-targeted over several countries, not one country for the whole campaign.
    assert len({e["billing_country"] for e in events}) == 4


def test_unmatched_infrastructures_keep_their_billing_elsewhere() -> None:
    spec = CampaignSpec(
        kind="hydra", id="un", accounts=40, account_age_days=(100.0, 200.0), start_h=0
    )
    _, plans = _campaign(3, spec, days=1.0)
    mismatched = [any(e.country != p.billing_country for e in p.endpoints) for p in plans]
    assert float(np.mean(mismatched)) > 0.5
    assert {p.billing_country for p in plans} <= {"SG", "HK", "AE", "US"}


@pytest.mark.parametrize(("seed", "tool"), [(3, "codeagent"), (29, "ideassist")])
def test_camouflage_in_a_popular_tool(seed: int, tool: str) -> None:
    users = HardNegativeSpec(kind="popular_agent", accounts=300, tool=tool)  # type: ignore[arg-type]
    spec = CampaignSpec(kind="hydra", id="camo", start_h=0, accounts=40, camouflage=tool)  # type: ignore[arg-type]
    sc = _scenario(seed, days=1.0, benign=BenignSpec(accounts=0, hard_negatives=[users]))
    sc = sc.model_copy(update={"campaigns": [spec]})
    sim = build(sc, scale=1.0)
    fp = POPULAR_TOOLS[tool]
    camp = [p for p in sim.plans if p.campaign_id == "camo"]
    benign = [p for p in sim.plans if p.campaign_id is None]
    events = list(_events(camp, seed))
    assert {(e["user_agent"], e["tls_ja4"]) for e in events} == {(fp["user_agent"], fp["tls_ja4"])}
    templates = Counter(e.get("prompt_template_hash") for e in events)
    assert set(templates) <= {fp["template"], None}
    assert templates[fp["template"]] >= 0.85 * len(events)
    # The same three values are what hundreds of independent benign users present.
    same = [
        p
        for p in benign
        if (p.user_agent, p.tls_ja4) == (fp["user_agent"], fp["tls_ja4"])
        and fp["template"] in p.traffic.templates
    ]
    assert len(same) == 300 and sum(p.requests > 0 for p in same) >= 150
    # Only the fingerprint is borrowed: the prompts stay the campaign's own families.
    camp_bases = {b for p in camp for b in p.traffic.simhash_bases}
    assert not camp_bases & {b for p in same for b in p.traffic.simhash_bases}


@pytest.mark.parametrize("seed", SEEDS)
def test_slow_multi_day_ramp_with_paraphrase(seed: int) -> None:
    spec = CampaignSpec(kind="slow", id="ramp", start_h=0, ramp_h=48, accounts=120, paraphrase=True)
    sc, plans = _campaign(seed, spec, days=3.0)
    firsts = np.sort([int(p.ts_ms[0]) - sc.start_ms for p in plans if p.requests])
    # Joins over the 48 h ramp (a renewal process's first request can come a gap later).
    assert firsts[0] >= 0 and firsts[-1] <= 66 * HOUR_MS
    assert firsts[-1] - firsts[0] >= 40 * HOUR_MS  # joins over two days
    active_by_day = [int(np.sum(firsts < (d + 1) * DAY_MS)) for d in range(3)]
    assert active_by_day[0] < 0.65 * len(plans) and active_by_day[0] < active_by_day[1]
    events = list(_events(plans, seed))
    hashes = [e["prompt_template_hash"] for e in events if e.get("prompt_template_hash")]
    assert len(set(hashes)) == len(hashes) > 100  # a new template hash per request


@pytest.mark.parametrize("seed", SEEDS)
def test_low_request_rate_with_poisson_timing_and_spread_rates(seed: int) -> None:
    spec = CampaignSpec(
        kind="hydra",
        id="low",
        start_h=0,
        ramp_h=1,
        accounts=200,
        requests_per_account_day=6,
        timing="poisson",
        rate_sigma=0.6,
        account_age_days=(30.0, 60.0),
    )
    _, plans = _campaign(seed, spec, days=4.0)
    rates = np.array([p.requests / 4.0 for p in plans])
    assert float(rates.mean()) == pytest.approx(6, rel=0.15)
    assert float(np.log(rates[rates > 0]).std()) > 0.4  # accounts differ in rate
    gaps = np.concatenate([np.diff(p.ts_ms) for p in plans if p.requests > 5])
    cvs = [np.diff(p.ts_ms).std() / np.diff(p.ts_ms).mean() for p in plans if p.requests > 20]
    assert 0.75 <= float(np.median(cvs)) <= 1.2  # Poisson: CV about 1
    # Independent timing: requests do not bunch on the dispatcher's minute ticks.
    assert np.unique(np.concatenate([p.ts_ms for p in plans]) // 1000 % 60).size == 60
    assert gaps.size > 1000


@pytest.mark.parametrize(("seed", "kind"), [(3, "low_slow"), (29, "hydra"), (101, "low_slow")])
def test_disjoint_infrastructures_share_only_behaviour_and_prompt_families(
    seed: int, kind: str
) -> None:
    spec = CampaignSpec(
        kind=kind,  # type: ignore[arg-type]
        id="split",
        start_h=0,
        accounts=160,
        infrastructures=4,
        requests_per_account_day=8,
        account_age_days=(365.0, 1000.0),
    )
    _, plans = _campaign(seed, spec)
    by_infra: dict[tuple[str, ...], list[AccountPlan]] = defaultdict(list)
    for p in plans:
        by_infra[p.traffic.templates].append(p)
    assert len(by_infra) == 4 and all(len(m) == 40 for m in by_infra.values())
    events = list(_events(plans, seed))
    infra_of = {p.account_id: p.traffic.templates for p in plans}
    seen: dict[str, dict[tuple[str, ...], set[object]]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        k = infra_of[e["account_id"]]
        seen["subnet"][k].add(_subnet(e["client_ip"]))
        if e["asn"] not in CLOUD_ASNS:  # the clouds are everyone's
            seen["asn"][k].add(e["asn"])
        seen["payment"][k].add(e["payment_fingerprint"])
        seen["tls"][k].add(e["tls_ja4"])
        seen["template"][k].add(e.get("prompt_template_hash"))
    for indicator, per_infra in seen.items():
        sets = [s - {None} for s in per_infra.values()]
        assert len(sets) == 4
        union = set().union(*sets)
        assert len(union) == sum(len(s) for s in sets), f"{indicator} shared between them"
    traffics = [m[0].traffic for m in by_infra.values()]
    assert len({t.simhash_bases for t in traffics}) == 1  # the same prompt families
    assert len({(t.input_tokens, t.output_tokens, t.categories) for t in traffics}) == 1


def test_mixed_campaigns_reject_account_mechanisms() -> None:
    spec = CampaignSpec(kind="mixed", id="m", accounts=5, camouflage="codeagent")
    sc = _scenario(3, campaigns=[spec])
    with pytest.raises(ValueError, match="hijacked"):
        campaign_accounts(World.create(sc, 1.0), spec)


# ---- benign look-alikes ----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_enterprise_eval_org_accounts_in_the_events(seed: int) -> None:
    spec = HardNegativeSpec(kind="enterprise_eval", units=2, accounts=8, cron_every_h=4)
    sc = _scenario(seed, days=1.0, benign=BenignSpec(accounts=0, hard_negatives=[spec]))
    plans = build(sc, scale=1.0).plans
    by_org: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    for e in _events(plans, seed):
        assert e["ip_kind"] == "datacenter" and e["country"] == e["billing_country"]
        assert (sc.start_ms - e["account_created_ms"]) / DAY_MS >= 365
        by_org[e["org_id"]].add((e["payment_fingerprint"],))
    assert len(by_org) == 2 and all(len(v) == 1 for v in by_org.values())


@pytest.mark.parametrize(("seed", "window_h"), [(3, 1.0), (29, 1.0), (101, 0.25)])
def test_university_class_signs_up_together_behind_one_nat(seed: int, window_h: float) -> None:
    spec = HardNegativeSpec(
        kind="university_class", units=3, accounts=40, at_h=2, signup_window_h=window_h
    )
    sc = _scenario(seed, benign=BenignSpec(accounts=0, hard_negatives=[spec]))
    plans = build(sc, scale=1.0).plans
    classes: dict[tuple[str, ...], list[AccountPlan]] = defaultdict(list)
    for p in plans:
        classes[p.traffic.templates].append(p)
    assert len(classes) == 3 and all(len(m) == 40 for m in classes.values())
    subnets = []
    for members in classes.values():
        created = [p.created_ms for p in members]
        assert max(created) - min(created) <= window_h * HOUR_MS
        assert all(p.created_ms >= sc.start_ms for p in members)  # signed up in the scenario
        events = list(_events(members, seed))
        nat = {_subnet(e["client_ip"]) for e in events}
        assert len(nat) == 1
        subnets.append(nat.pop())
        used = {e.get("prompt_template_hash") for e in events} - {None}
        assert len(used) == 1  # one assignment template
        assert sum(1 for e in events if e.get("prompt_template_hash")) >= 0.4 * len(events)
    assert len(set(subnets)) == 3


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_popular_agent_users_share_the_tool_and_nothing_else(seed: int) -> None:
    spec = HardNegativeSpec(kind="popular_agent", accounts=400)
    sc = _scenario(seed, benign=BenignSpec(accounts=0, hard_negatives=[spec]))
    plans = [p for p in build(sc, scale=1.0).plans if p.group == "popular_agent"]
    assert len(plans) == 400
    assert {(p.user_agent, p.tls_ja4, p.traffic.templates) for p in plans} == {
        (CODING_AGENT["user_agent"], CODING_AGENT["tls_ja4"], (CODING_AGENT["template"],))
    }
    # Independent customers: their own payment, addresses, country and behaviour.
    assert len({p.payment_fingerprint for p in plans}) == 400
    assert len({_subnet(p.endpoints[0].ip) for p in plans}) >= 0.95 * 400
    assert len({p.billing_country for p in plans}) >= 8
    coding = np.array([p.traffic.category_weights[0] for p in plans])
    thinking = np.array([p.traffic.thinking_share for p in plans])
    assert coding.std() > 0.08 and thinking.std() > 0.15
    counts = np.array([p.requests for p in plans])
    top = np.sort(counts)[::-1]
    assert top[:40].sum() >= 0.4 * top.sum()  # heavy-tailed volume, like all customers


def _mean_harvest(plans: list[AccountPlan], seed: int) -> float:
    from app.core.events import validate_event
    from app.core.features.request import request_signals

    scores = [request_signals(validate_event(e)).harvest for e in _events(plans, seed)]
    return float(np.mean(scores))


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_a_research_agents_users_are_harvest_like_by_nature(seed: int) -> None:
    def users(profile: str) -> list[AccountPlan]:
        spec = HardNegativeSpec(kind="popular_agent", accounts=120, tool="researchagent")
        spec = spec.model_copy(update={"profile": profile})
        sc = _scenario(seed, days=0.5, benign=BenignSpec(accounts=0, hard_negatives=[spec]))
        return [p for p in build(sc, scale=1.0).plans if p.group == "popular_agent"]

    research = users("research")
    assert {p.user_agent for p in research} == {POPULAR_TOOLS["researchagent"]["user_agent"]}
    assert len({p.payment_fingerprint for p in research}) == 120  # independent customers
    # long, reasoning-heavy answers: over the cohort gate (0.75) without any harvesting
    assert _mean_harvest(research, seed) >= 0.75
    assert _mean_harvest(users("coding"), seed) < 0.75


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_offices_put_colleagues_on_one_block_with_their_own_accounts(seed: int) -> None:
    spec = HardNegativeSpec(
        kind="popular_agent", accounts=400, office_share=0.5, office_size=(3.0, 30.0)
    )
    sc = _scenario(seed, benign=BenignSpec(accounts=0, hard_negatives=[spec]))
    plans = [p for p in build(sc, scale=1.0).plans if p.group == "popular_agent"]
    by_block: defaultdict[str, list[AccountPlan]] = defaultdict(list)
    for p in plans:
        by_block[_subnet(p.endpoints[0].ip)].append(p)
    offices = [ps for ps in by_block.values() if len(ps) >= 3]
    in_office = sum(len(ps) for ps in offices)
    assert 0.4 * 400 <= in_office <= 0.6 * 400
    assert all(len(ps) <= 30 for ps in offices)
    for ps in offices:  # colleagues: one office, their own accounts and cards, no org
        assert len({p.endpoints for p in ps}) == 1
        assert len({p.payment_fingerprint for p in ps}) == len(ps)
        assert {p.org_id for p in ps} == {None}


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_home_blocks_make_strangers_share_an_isps_blocks(seed: int) -> None:
    def shared_share(home_blocks: int | None) -> float:
        benign = BenignSpec(accounts=3_000, coding_agent_share=0.0, vpn_share=0.0)
        benign = benign.model_copy(update={"home_blocks": home_blocks})
        sc = _scenario(seed, days=0.2, benign=benign)
        plans = [p for p in build(sc, scale=1.0).plans if p.group == "regular"]
        blocks = Counter(_subnet(p.endpoints[0].ip) for p in plans)
        return sum(1 for p in plans if blocks[_subnet(p.endpoints[0].ip)] >= 2) / len(plans)

    assert shared_share(None) == 0.0  # every home its own block
    # 3,000 homes (about 1.8 addresses each) over 30,000 blocks: ~16% share one by chance
    assert 0.08 <= shared_share(30_000) <= 0.3
    assert shared_share(3_000) > shared_share(30_000)


# ---- the adaptive scenario and its labels ---------------------------------------------

VARIANTS = {"published", "slow_paraphrase", "low_slow", "aged_residential", "camouflage"}
LOOKALIKES = {"enterprise_eval", "university_class", "popular_agent"}


def test_adaptive_names_every_variant_and_look_alike(tmp_path: Path) -> None:
    sc = load_scenario("adaptive").with_overrides(days=1.5)
    assert {c.group for c in sc.campaigns} == VARIANTS and len(sc.campaigns) == 5
    assert len({c.id for c in sc.campaigns}) == 5
    sim = build(sc, scale=0.005)
    buf = io.StringIO()
    first = {p.account_id: int(p.ts_ms[0]) for p in sim.plans if p.campaign_id and p.requests}
    write_labels(sim.plans, buf, first)
    (tmp_path / "l.csv").write_text(buf.getvalue())
    labels = load_labels(tmp_path / "l.csv")
    assert {lab.group for lab in labels.values() if lab.campaign_id} == VARIANTS
    assert {lab.group for lab in labels.values() if not lab.campaign_id} >= LOOKALIKES
    # The evaluator reports every look-alike group and every variant on its own.
    truth = GroundTruth(
        labels=labels,
        start_ms=sc.start_ms,
        end_ms=sc.end_ms,
        campaign_event_ts={
            c.id: np.sort(np.concatenate([p.ts_ms for p in sim.plans if p.campaign_id == c.id]))
            for c in sc.campaigns
        },
        active_accounts={p.account_id for p in sim.plans if p.requests},
    )
    s = score_flags([], truth)
    assert set(s["benign"]["by_group"]) >= LOOKALIKES | {"regular"}
    assert {c["group"] for c in s["campaigns"].values()} == VARIANTS


def test_adaptive_is_sized_for_20000_active_benign_accounts() -> None:
    sc = load_scenario("adaptive")
    scale = 0.02
    sim = build(sc, scale=scale)
    # Groups without a size floor extrapolate linearly to --scale 1.
    active = sum(1 for p in sim.plans if p.group in ("regular", "popular_agent") and p.requests)
    assert active / scale >= 20_000
    agent = next(h for h in sc.benign.hard_negatives if h.kind == "popular_agent")
    assert agent.accounts * agent.units >= 20_000  # tens of thousands of users


def test_seeds_change_the_traffic_not_the_properties() -> None:
    a, b = (
        build(load_scenario("adaptive").with_overrides(seed=s, days=1.5), scale=0.005)
        for s in (1, 2)
    )
    camo = [[p for p in sim.plans if p.group == "camouflage"] for sim in (a, b)]
    assert [p.created_ms for p in camo[0]] != [p.created_ms for p in camo[1]]
    assert {e.ip for p in camo[0] for e in p.endpoints} != {
        e.ip for p in camo[1] for e in p.endpoints
    }
    for members in camo:
        assert {p.user_agent for p in members} == {CODING_AGENT["user_agent"]}
    for sim in (a, b):
        for p in sim.plans:
            if p.group == "aged_residential":
                assert all(
                    e.country == p.billing_country and e.ip_kind == "residential"
                    for e in p.endpoints
                )
