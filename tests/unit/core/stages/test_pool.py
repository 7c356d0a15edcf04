"""The proxy-pool family: shared address blocks spread over many blocks, a few members each.

Hand-made cohorts through the pivot stage's evidence and tier rule, and hand-made links
into the campaign stage (one pivot partition). The accounts are the hard case: aged,
billing country = IP country, residential addresses, Poisson timing — no youth, no
mismatch, no risky infrastructure, no coordination.
"""

from __future__ import annotations

from pathlib import Path

from app.core.campaigns.evidence import FAMILY_THRESHOLD, Evidence
from app.core.campaigns.pivot_state import PivotState
from app.core.events import AlertEvent
from app.core.settings import DetectionSettings
from app.core.stages.campaign import CampaignStage
from app.core.stages.pivot import PivotStage
from app.core.stages.records import Link, LinkInput, TickLinks

S = DetectionSettings()
TICK = 600_000
#: requests per member: rates far apart (no coordination family)
COUNTS = (3, 5, 9, 17, 33)


def _aged_harvest(n: int) -> list[int]:
    """``n`` harvest-like requests (0.9) of an aged account, nothing else."""
    return [n, 18 * n, 0, 0, 0, n, 2000 * n, 0]


def _cohort(blocks: list[int]) -> PivotState:
    """One member per entry, on the address block the entry names."""
    p = PivotState()
    for i, block in enumerate(blocks):
        p.add(f"a{i}", 1_000, 2_000, _aged_harvest(COUNTS[i % 5]), subnet_tag=block)
    return p


def _evidence(key: str, blocks: list[int]) -> tuple[PivotStage, PivotState, Evidence]:
    stage = PivotStage(S, partition=0, upstream_partitions=1)
    p = _cohort(blocks)
    ev = stage.cohort_evidence(key, p, 2_000)
    assert ev is not None
    return stage, p, ev


def test_a_cohort_spread_over_a_proxy_pool_has_the_pool_family() -> None:
    # 20 members: five blocks with two members each (pool collisions), ten alone
    blocks = [b for b in range(100, 105) for _ in range(2)] + list(range(200, 210))
    stage, _, ev = _evidence("template:t1", blocks)
    assert ev.pool >= FAMILY_THRESHOLD
    assert ev.infrastructure == 0.5  # half the members share a block with another
    assert ev.families == 2 and stage._tier(ev) == 2


def test_one_site_or_a_few_households_are_no_pool() -> None:
    # an office (ten members behind one NAT) and ten members at home: one shared block
    office = [7] * 10 + list(range(200, 210))
    stage, _, ev = _evidence("template:t1", office)
    assert ev.pool == 0.0 and ev.infrastructure == 0.5
    assert stage._tier(ev) == 1  # co-location alone: candidate links only
    # three households of two: fewer blocks than pool_min_blocks
    homes = [b for b in range(100, 103) for _ in range(2)] + list(range(200, 214))
    _, _, ev = _evidence("template:t1", homes)
    assert ev.pool < FAMILY_THRESHOLD
    # four campus NATs with five members each: sites, not pool collisions
    campus = [b for b in range(100, 104) for _ in range(5)]
    _, _, ev = _evidence("template:t1", campus)
    assert ev.pool == 0.0
    # independent customers, each on its own block
    _, _, ev = _evidence("template:t1", list(range(200, 220)))
    assert ev.pool == 0.0 and ev.infrastructure == 0.0


def test_a_subnet_pivot_is_one_block_and_never_a_pool() -> None:
    blocks = [b for b in range(100, 105) for _ in range(2)] + list(range(200, 210))
    _, _, ev = _evidence("subnet:198.51.100.0/24", blocks)
    assert ev.pool == 0.0


def test_links_from_a_pool_cohort_say_so_for_co_located_members_only() -> None:
    blocks = [b for b in range(100, 105) for _ in range(2)] + list(range(200, 210))
    stage, p, ev = _evidence("template:t1", blocks)
    p.pool = ev.pool >= FAMILY_THRESHOLD
    assert stage._link("a0", "template:t1", p)[7] == 2  # shares block 100 with a1
    assert stage._link("a10", "template:t1", p)[7] == 0  # alone on its block
    p.pool = False
    assert stage._link("a0", "template:t1", p)[7] == 1


def _cluster(shared: int) -> list[AlertEvent]:
    """Eight accounts linked on two kinds, request counts spread (Poisson timing, rates
    apart: no coordination), co-located on the SimHash cohort as ``shared`` says."""
    stage = CampaignStage(S, upstream_partitions=1)
    links: list[Link] = []
    for i in range(8):
        n = 6 + 9 * i
        harvest = int(0.9 * 20 * n)
        for key, colo in (("simhash:0:1f", shared), ("payment:pay-7", 0)):
            links.append((f"a{i}", key, n, harvest, 0, 0, 0, colo, 0, 0, 0, 0))
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    return stage.advance(emitted_ms=0).alerts


def test_a_cluster_co_located_on_pool_cohorts_is_a_campaign() -> None:
    alerts = _cluster(shared=2)
    campaigns = [a for a in alerts if a.entity_type == "campaign"]
    assert len(campaigns) == 1
    assert "pool" in [r.feature for r in campaigns[0].reasons]
    assert sum(a.entity_type == "account" for a in alerts) == 8


def test_co_location_alone_does_not_make_a_cluster_suspicious() -> None:
    # the same cluster sharing blocks as one office would: one family (infrastructure)
    assert _cluster(shared=1) == []


def test_an_account_in_two_campaigns_reach_is_not_re_alerted_under_each_in_turn() -> None:
    # 50 young, mismatched, co-located accounts linked on two kinds: a critical cluster.
    # Then another campaign's remembered indicators (two kinds) reach the same accounts
    # while their links keep changing: the remembered campaign must not take them from
    # their own cluster, or each tick re-alerts them under the other id (measured at
    # scale 1 once more campaigns reached critical: one account 83 times in a day).
    stage = CampaignStage(S, upstream_partitions=1)
    n = 30
    harvest = int(0.9 * 20 * n)

    def link(a: str, key: str) -> Link:
        return (a, key, n, harvest, n, 0, n, 1, 0, 0, 0, 0)

    accounts = [f"a{i:02d}" for i in range(50)]
    t = TICK
    links = [link(a, k) for a in accounts for k in ("payment:p1", "template:t1")]
    stage.receive(LinkInput(0, t, [TickLinks(t, False, links)]))
    first = stage.advance(emitted_ms=0).alerts
    cid = next(a.campaign_id for a in first if a.entity_type == "campaign")
    assert {a.severity for a in first if a.entity_type == "account"} == {"critical"}
    # "cmp-0000" sorts before any derived id: it wins a tie of remembered kinds
    stage.memory.remember("cmp-0000", ["tls:z|u", "subnet:198.51.100.0/24"], at_ms=t)
    later = []
    for i in range(1, 5):
        t += TICK
        new = [link(a, f"simhash:{i % 4}:{j:x}{i}") for j, a in enumerate(accounts)]
        if i == 1:
            new += [link(a, k) for a in accounts for k in ("tls:z|u", "subnet:198.51.100.0/24")]
        stage.receive(LinkInput(0, t, [TickLinks(t, False, new)]))
        later += [a for a in stage.advance(emitted_ms=0).alerts if a.entity_type == "account"]
    per_account = {a: [x.campaign_id for x in later if x.entity_id == a] for a in accounts}
    assert all(len(ids) <= 1 for ids in per_account.values()), per_account["a00"]
    assert all(ids in ([], [cid]) for ids in per_account.values())


def test_collisions_that_do_not_grow_with_the_cohort_are_sites_not_a_pool() -> None:
    # ten blocks with two members each: among 100 members a proxy pool's rate (the
    # collisions per member grow as n / 2m), among 600 a steady share of households and
    # small offices (1.7% of members: independent customers who sit together)
    pairs = [b for b in range(100, 110) for _ in range(2)]
    _, _, ev = _evidence("template:t1", pairs + list(range(1_000, 1_080)))
    assert ev.pool >= FAMILY_THRESHOLD
    _, _, ev = _evidence("template:t1", pairs + list(range(1_000, 1_580)))
    assert ev.pool == 0.0


def _population(stage: PivotStage, *, pairs: int, alone: int) -> None:
    """``pairs`` subnet pivots of two strangers each and ``alone`` blocks of one account."""
    for i in range(pairs):
        p = PivotState()
        for j in range(2):
            p.add(f"s{i}-{j}", 1_000, 2_000, _aged_harvest(1), subnet_tag=i)
        stage.pivots[f"subnet:10.{i // 256}.{i % 256}.0/24"] = p
    for i in range(alone):
        stage._solo[f"subnet:11.{i // 256}.{i % 256}.0/24"] = (2_000, 0, f"u{i}", 0, 0)  # type: ignore[assignment]
        stage._solo_subnets += 1


def test_collisions_the_populations_strangers_reach_by_chance_are_no_pool() -> None:
    stage = PivotStage(S, partition=0, upstream_partitions=1)
    _population(stage, pairs=50, alone=900)  # 1,000 block members here, 50 pairs
    q = S.pivot_partitions
    assert stage._stranger_rate() == 2 * 50 / (q * 1_000 * 1_000)
    # a cohort of 150 with 8 two-member blocks, in a population where chance alone gives
    # 150 accounts 6 of them on average: 8 or more happen a quarter of the time
    stage.stranger_rate = 6 / (150 * 149 / 2)
    blocks = [b for b in range(100, 108) for _ in range(2)] + list(range(1_000, 1_134))
    p = _cohort(blocks)
    ev = stage.cohort_evidence("template:t1", p, 2_000)
    assert ev is not None and ev.pool == 0.0
    stage.stranger_rate = 0.0  # the same cohort in a population where strangers never share
    ev = stage.cohort_evidence("template:t1", p, 2_000)
    assert ev is not None and ev.pool >= FAMILY_THRESHOLD


def test_a_pool_cohorts_member_on_a_crowded_block_is_not_a_pool_collision() -> None:
    # five two-member blocks (pool collisions) and an office of thirteen on the same tool
    blocks = [b for b in range(100, 105) for _ in range(2)] + [7] * 13 + list(range(200, 210))
    stage, p, ev = _evidence("template:t1", blocks)
    assert ev.pool >= FAMILY_THRESHOLD
    p.pool = True
    assert stage._link("a0", "template:t1", p)[7] == 2  # on block 100 with a1
    assert stage._link("a10", "template:t1", p)[7] == 1  # in the office: co-located, a site
    assert stage._link("a23", "template:t1", p)[7] == 0  # alone


def test_the_count_of_one_account_blocks_is_kept_exactly(tmp_path: Path) -> None:
    # the stranger rate's denominator: counted as solo entries come and go (insert,
    # eviction when full, promotion to a pivot, hourly expiry), never by a scan
    from app.core.stages.local import LocalTopology
    from tests.unit.core.stages.sim import hydra_events

    events = hydra_events(tmp_path, days=1.2, start_h=3)
    for cap in (100_000, 400):  # and with the solo table full: evictions
        topo = LocalTopology(
            S.model_copy(update={"max_solo_indicators": cap}), account_partitions=2
        )
        for i in range(0, len(events), 5_000):
            batch = events[i : i + 5_000]
            topo.process([(0, batch[0::2]), (1, batch[1::2])])
            for stage in topo.pivots:
                scan = sum(1 for k in stage._solo if k.startswith("subnet:"))
                assert stage._solo_subnets == scan
        assert cap > 1_000 or sum(stage.evicted for stage in topo.pivots) > 0
