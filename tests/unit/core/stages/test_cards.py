"""Member cards: a confirmed or critical campaign remembers each member's own payment
method, however few accounts share it, so a head grown on its predecessor's card and one
other remembered indicator joins the campaign at its first links.

Hand-made links into the campaign stage (one pivot partition), and the card tag's way
from a request through the account and pivot stages onto a link.
"""

from __future__ import annotations

from app.core.campaigns.values import card_tag
from app.core.settings import DetectionSettings
from app.core.stages.campaign import CampaignStage
from app.core.stages.local import LocalTopology
from app.core.stages.records import LinkInput, TickLinks
from tests.unit.core.stages.test_trust import T0, cohort

S = DetectionSettings()
TICK = 600_000
N = 30
HARVEST = int(0.9 * 20 * N)
MEMBERS = 50  # a critical campaign: three families and 50 accounts
KEYS = ("subnet:198.51.100.0/24", "tls:t13d|bot/1", "template:t1")


def _link(account: str, key: str, *, card: int, org: int = 0) -> tuple:
    return (account, key, N, HARVEST, N, 0, N, 1, 0, 0, org, card)  # young, abroad


def _campaign_then(later: list[tuple], *, settings: DetectionSettings = S) -> list:
    """A critical campaign of 50 accounts, each on its own card (a7 an org's account),
    at the first tick; ``later`` links at the second. The member alerts of new accounts."""
    stage = CampaignStage(settings, upstream_partitions=1)
    links = [
        _link(f"a{i}", k, card=100 + i, org=7 if i == 7 else 0)
        for i in range(MEMBERS)
        for k in KEYS
    ]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    first = stage.advance(emitted_ms=0).alerts
    (camp,) = [a for a in first if a.entity_type == "campaign"]
    assert camp.severity == "critical"
    stage.receive(LinkInput(0, 2 * TICK, [TickLinks(2 * TICK, False, later)]))
    return [a for a in stage.advance(emitted_ms=0).alerts if a.entity_id.startswith("new")]


def test_a_head_on_a_members_card_and_one_remembered_indicator_joins_the_campaign() -> None:
    alerts = _campaign_then([_link("new1", KEYS[2], card=103)])
    assert [a.entity_id for a in alerts] == ["new1"]
    (alert,) = alerts
    assert alert.campaign_id is not None and alert.campaign_id.startswith("cmp-")
    assert alert.reasons[0].feature == "remembered_indicators"
    assert "payment" in alert.reasons[0].detail and "template" in alert.reasons[0].detail
    assert alert.action != "observe"


def test_a_card_alone_an_unknown_card_or_an_org_members_card_is_not_enough() -> None:
    # the card with nothing else remembered: one kind
    assert _campaign_then([_link("new1", "template:elsewhere", card=103)]) == []
    # one remembered indicator and a card no member has: one kind
    assert _campaign_then([_link("new1", KEYS[2], card=9_999)]) == []
    # an org's card is shared by the org's accounts: never remembered
    assert _campaign_then([_link("new1", KEYS[2], card=107)]) == []


def test_without_member_cards_the_head_waits() -> None:
    off = S.model_copy(update={"member_cards": False})
    assert _campaign_then([_link("new1", KEYS[2], card=103)], settings=off) == []


def test_the_card_memory_is_capped_per_campaign() -> None:
    capped = S.model_copy(update={"card_memory_per_campaign": 3})
    stage = CampaignStage(capped, upstream_partitions=1)
    links = [_link(f"a{i}", k, card=100 + i) for i in range(MEMBERS) for k in KEYS]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    stage.advance(emitted_ms=0)
    assert len(stage.cards) == 3


def test_links_carry_the_card_of_the_accounts_latest_request_on_the_pivot() -> None:
    events = cohort("hydra", created_days=2)
    topo = LocalTopology(S, account_partitions=1)
    topo.run([(0, events)])
    camp = topo.campaign
    fps = {e.account_id: e.payment_fingerprint for e in events}
    carried = {a: camp._cards_of(a) for a in camp.links}
    assert carried  # the linked accounts' cards reached the campaign stage
    for account, tags in carried.items():
        assert tags == {card_tag(fps[account])}
    # a critical campaign of them remembers their cards
    assert len(camp.cards) >= 1
    assert all(
        camp.cards.campaign_of(card_tag(fps[a]), at_ms=T0) is not None
        for a in camp.links
        if a in camp.member_of
    )
    # the per-account card counts follow the links exactly
    for a, mine in camp.links.items():
        assert set(camp._link_cards.get(a, ())) == {v[8] for v in mine.values() if v[8]}
    assert set(camp._link_cards) <= set(camp.links)
