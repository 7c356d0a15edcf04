"""Values strangers share by chance: a SimHash band matched once by a busy account, and a
creation hour, never make a benign account a campaign member on their own."""

from __future__ import annotations

from app.core.campaigns.pivot_state import PivotState
from app.core.settings import DetectionSettings
from app.core.stages.campaign import CampaignStage
from app.core.stages.pivot import PivotStage
from app.core.stages.records import Link, LinkInput, TickLinks

S = DetectionSettings()
TICK = 600_000


def _link(account: str, key: str, n: int) -> Link:
    """A qualified (not candidate) link: ``n`` harvest-like requests, young, mismatched."""
    return (account, key, n, int(0.9 * 20 * n), n, 0, n, 0, 0, 0, 0, 0)


def _stage(simhash_n: int, subnet_n: int) -> CampaignStage:
    stage = CampaignStage(S, upstream_partitions=1)
    links = [_link("a", "subnet:198.51.100.0/24", subnet_n), _link("a", "simhash:0:1f", simhash_n)]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    stage.advance(emitted_ms=0)
    return stage


def test_one_near_duplicate_among_thousands_of_requests_is_chance() -> None:
    # a 21-bit band matched once by an account sending 2,000 (or 37) requests: no second kind
    assert not _stage(simhash_n=1, subnet_n=2_000)._multi_kind("a")
    assert not _stage(simhash_n=1, subnet_n=37)._multi_kind("a")
    # the same band matched twice, or once by a new account (its first requests), counts
    assert _stage(simhash_n=2, subnet_n=2_000)._multi_kind("a")
    assert _stage(simhash_n=1, subnet_n=3)._multi_kind("a")


def test_a_critical_creation_hour_is_not_remembered() -> None:
    # a critical cohort's indicators qualify later accounts at their first observation;
    # a creation hour is what every sign-up of that hour shares: never remembered
    stage = PivotStage(S, partition=0, upstream_partitions=1)
    for key in ("created:492345", "payment:pay-7"):
        p = PivotState()
        for i in range(8):  # young, mismatched, risky, harvest-like: three families
            p.add(f"{key}-{i}", 1_000, 2_000, [4, 72, 4, 4, 4, 4, 8000, 0], subnet_tag=i)
        stage.pivots[key] = p
    stage._tick(TICK, type("Out", (), {"alerts": []})(), 0)  # type: ignore[arg-type]
    assert stage.remembered.campaign_of("payment:pay-7", at_ms=TICK) is not None
    assert stage.remembered.campaign_of("created:492345", at_ms=TICK) is None


def test_one_heavy_young_member_does_not_make_a_cohort_young() -> None:
    # an office of ten aged colleagues and one new sign-up sending most of the requests:
    # youth by requests is 0.9, by members 0.1 — the cohort has no youth family
    stage = PivotStage(S, partition=0, upstream_partitions=1)
    p = PivotState()
    p.add("new", 1_000, 2_000, [90, 90 * 18, 0, 90, 0, 90, 2000 * 90, 0], subnet_tag=7)
    for i in range(10):
        p.add(f"old{i}", 1_000, 2_000, [1, 18, 0, 0, 0, 1, 2000, 0], subnet_tag=7)
    ev = stage.cohort_evidence("subnet:198.51.100.0/24", p, 2_000)
    assert ev is not None and ev.youth < 0.5 and ev.families == 1  # infrastructure only
    # a cohort of young members stays young
    q = PivotState()
    for i in range(11):
        q.add(f"y{i}", 1_000, 2_000, [5, 90, 0, 5, 0, 5, 10_000, 0], subnet_tag=7)
    ev = stage.cohort_evidence("subnet:198.51.100.0/24", q, 2_000)
    assert ev is not None and ev.youth == 1.0 and ev.families >= 2
