"""Member hints: harvest-like members without a family of their own, on pivots whose
members nearly all are harvest-like, join the campaign that dominates those pivots.

Hand-made links and hints into the campaign stage (one pivot partition), and hand-made
cohorts through the pivot stage's hint rule.
"""

from __future__ import annotations

from app.core.campaigns.pivot_state import PivotState
from app.core.settings import DetectionSettings
from app.core.stages.campaign import CampaignStage
from app.core.stages.pivot import PivotStage
from app.core.stages.records import HINT, LinkInput, TickLinks

S = DetectionSettings()
TICK = 600_000
N = 30
HARVEST = int(0.9 * 20 * N)
KEYS = ("subnet:198.51.100.0/24", "tls:t13d|bot/1", "template:t1")


def _link(account: str, key: str, *, weak: int = 0) -> tuple:
    return (account, key, N, HARVEST, 0, 0, 0, 1, 0, weak, 0)


def _campaign_then(hints: list[tuple], *, settings: DetectionSettings = S) -> list:
    """A campaign of eight accounts at the first tick; ``hints`` at the second."""
    stage = CampaignStage(settings, upstream_partitions=1)
    links = [_link(f"a{i}", k) for i in range(8) for k in KEYS]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    first = stage.advance(emitted_ms=0).alerts
    assert any(a.entity_type == "campaign" for a in first)
    stage.receive(LinkInput(0, 2 * TICK, [TickLinks(2 * TICK, False, hints)]))
    return [a for a in stage.advance(emitted_ms=0).alerts if a.entity_id.startswith("new")]


def test_a_new_account_hinted_on_two_kinds_of_a_campaigns_pivots_joins_it() -> None:
    alerts = _campaign_then([_link("new1", KEYS[1], weak=HINT), _link("new1", KEYS[2], weak=HINT)])
    assert [a.entity_id for a in alerts] == ["new1"]
    (alert,) = alerts
    assert alert.campaign_id is not None and alert.campaign_id.startswith("cmp-")
    assert alert.reasons[0].feature == "campaign_indicators"
    assert alert.action != "observe"


def test_one_kind_or_pivots_no_campaign_holds_is_not_enough() -> None:
    assert _campaign_then([_link("new1", KEYS[1], weak=HINT)]) == []
    elsewhere = [
        _link("new1", "tls:t13d|other/1", weak=HINT),
        _link("new1", "template:t9", weak=HINT),
    ]
    assert _campaign_then(elsewhere) == []


def test_hints_never_join_the_graph() -> None:
    # eight accounts hinted on three dimensions: hints are no links, so no campaign
    stage = CampaignStage(S, upstream_partitions=1)
    hints = [_link(f"a{i}", k, weak=HINT) for i in range(8) for k in KEYS]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, hints)]))
    assert stage.advance(emitted_ms=0).alerts == []


def _cohort(harvest_like: int, total: int) -> PivotState:
    p = PivotState()
    for i in range(total):
        units = 4 * 18 if i < harvest_like else 4 * 2
        p.add(f"m{i}", 1_000, 2_000, [4, units, 0, 0, 0, 4, 8000, 0], subnet_tag=i)
    return p


def test_a_pivot_sends_hints_only_when_nearly_all_members_are_harvest_like() -> None:
    stage = PivotStage(S, partition=0, upstream_partitions=1)
    dispatcher = _cohort(20, 20)  # one operator's accounts: every one harvest-like
    assert stage._hint_ok("tls:t13d|aiohttp/3", dispatcher, "m0")
    popular = _cohort(3, 20)  # a popular tool: a few heavy users among many
    assert not stage._hint_ok("tls:t13d|codeagent/2", popular, "m0")
    assert not stage._hint_ok("template:t1", _cohort(19, 20), "m19")  # the member itself is not
    assert not stage._hint_ok("created:492345", dispatcher, "m0")  # strangers share an hour
    assert not stage._hint_ok("asn:64500", dispatcher, "m0")
