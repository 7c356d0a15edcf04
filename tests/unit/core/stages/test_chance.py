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
