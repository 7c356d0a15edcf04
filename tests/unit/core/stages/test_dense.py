"""Dense blocks: candidate links from single-family cohorts count only across dimensions.

Hand-made links into the campaign stage (one pivot partition), and hand-made cohorts
through the pivot stage's tier rule.
"""

from __future__ import annotations

from app.core.campaigns.evidence import Evidence
from app.core.settings import DetectionSettings
from app.core.stages.campaign import CampaignStage
from app.core.stages.pivot import PivotStage
from app.core.stages.records import LinkInput, TickLinks

S = DetectionSettings()
TICK = 600_000
N = 30  # requests per member per pivot
HARVEST = int(0.9 * 20 * N)  # harvest units for a 0.9 harvest score


def _link(account: str, key: str, *, weak: int, shared: int = 1) -> tuple:
    return (account, key, N, HARVEST, 0, 0, 0, shared, 0, weak, 0)


def _alerts(keys: tuple[str, ...], *, weak: int = 1, settings: DetectionSettings = S) -> list:
    stage = CampaignStage(settings, upstream_partitions=1)
    links = [_link(f"a{i}", k, weak=weak) for i in range(8) for k in keys]
    stage.receive(LinkInput(0, TICK, [TickLinks(TICK, False, links)]))
    return stage.advance(emitted_ms=0).alerts


def test_accounts_sharing_three_dimensions_through_candidate_links_form_a_campaign() -> None:
    # aged accounts, matched countries, Poisson timing: each cohort has one family
    # (co-location); together they share network, client and content
    alerts = _alerts(("subnet:198.51.100.0/24", "tls:t13d|bot/1", "template:t1"))
    campaigns = [a for a in alerts if a.entity_type == "campaign"]
    assert len(campaigns) == 1
    assert campaigns[0].evidence["accounts"] == 8
    assert "density" in [r.feature for r in campaigns[0].reasons]
    assert sum(a.entity_type == "account" for a in alerts) == 8


def test_a_popular_tool_shared_by_independent_users_is_no_block() -> None:
    # one tool's fingerprint, user agent and system prompt: client and content only
    assert _alerts(("tls:t13d|codeagent/2", "template:tpl-codeagent", "simhash:0:1f")) == []


def test_without_dense_links_candidate_links_never_join_the_graph() -> None:
    off = DetectionSettings(dense_links=False)
    keys = ("subnet:198.51.100.0/24", "tls:t13d|bot/1", "template:t1")
    assert _alerts(keys, settings=off) == []
    assert _alerts(keys, weak=0, settings=off) != []  # full links still do


def test_the_pivot_tier_follows_the_cohort_families() -> None:
    stage = PivotStage(S, partition=0, upstream_partitions=1)

    def ev(**families: float) -> Evidence:
        base = dict(youth=0.0, mismatch=0.0, infrastructure=0.0, coordination=0.0)
        return Evidence(accounts=10, harvest=0.9, **{**base, **families})

    assert stage._tier(ev(youth=0.9, mismatch=0.8)) == 2
    assert stage._tier(ev(infrastructure=0.9)) == 1
    assert stage._tier(ev()) == 0
    assert stage._tier(Evidence(10, 0.3, 0.9, 0.9, 0.0, 0.0)) == 0  # not harvest-like
    assert (
        PivotStage(DetectionSettings(dense_links=False), partition=0, upstream_partitions=1)._tier(
            ev(infrastructure=0.9)
        )
        == 0
    )


def test_a_creation_hour_pivot_does_not_lend_its_youth_to_a_member() -> None:
    from app.core.campaigns.pivot_state import PivotState

    stage = PivotStage(S, partition=0, upstream_partitions=1)
    p = PivotState()
    young_only = [4, 4 * 18, 0, 4, 0, 4, 8000, 0]  # harvest-like, young, nothing else
    young_mismatch = [4, 4 * 18, 4, 4, 0, 4, 8000, 0]
    p.add("benign-signup", 1_000, 2_000, young_only, subnet_tag=1)
    p.add("bought", 1_000, 2_000, young_mismatch, subnet_tag=2)
    assert not stage._member_ok("created:492345", p, "benign-signup")
    assert stage._member_ok("created:492345", p, "bought")
    assert stage._member_ok("template:t1", p, "benign-signup")  # youth is its own there


def test_an_accounts_own_burst_needs_two_families_and_a_long_standing_orgs_three() -> None:
    from app.core.stages.account import AccountStage
    from tests.unit.core.stages.test_trust import T0, request

    def gate(org_id: str | None, ip_country: str) -> bool:
        stage = AccountStage(S, partition=0, pivot_partitions=1)
        events = [  # a harvest-like burst from a cloud /24, billed in DE
            request(
                i, "acct", T0 + i * 60_000, created_days=400, org_id=org_id, ip_country=ip_country
            )
            for i in range(30)
        ]
        stage.process(events, emitted_ms=0)
        return stage._harvest_gate("acct", T0 + 30 * 60_000)

    # abroad: risky egress and billing/IP mismatch, two families — the account alerts, a
    # long-standing org's account (an eval harness's shape) does not
    assert gate(None, "US") and not gate("org-acme", "US")
    # from its own country: one family (risky egress), what a heavy user of a harvest-like
    # tool on a cloud dev box has — neither
    assert not gate(None, "DE") and not gate("org-acme", "DE")
    # one family is enough where the setting says so (the earlier rule)
    one = S.model_copy(update={"account_alert_min_families": 1})
    stage = AccountStage(one, partition=0, pivot_partitions=1)
    stage.process(
        [request(i, "acct", T0 + i * 60_000, created_days=400, ip_country="DE") for i in range(30)],
        emitted_ms=0,
    )
    assert stage._harvest_gate("acct", T0 + 30 * 60_000)
