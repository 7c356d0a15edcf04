from __future__ import annotations

from app.tools.console.campaigns import campaign_detail, campaign_summaries, member_table
from app.tools.console.store import AlertStore
from tests.unit.tools.console.conftest import CID, MEMBERS, REQUESTS
from tests.unit.tools.console.factory import HOUR, T0, campaign_round


def test_summary_is_the_newest_alert_with_the_history_of_sizes(store: AlertStore) -> None:
    [s] = campaign_summaries(store.snapshot())
    assert s.campaign_id == CID
    assert (s.severity, s.action, s.action_ttl_s) == ("high", "throttle", 6 * 3600)
    assert s.members_now == 6 and s.members_alerted == 6
    assert s.members_over_time == ((T0, 3), (T0 + 2 * HOUR + 600_000, 6))
    assert s.first_seen_ms == T0 and s.last_seen_ms == T0 + 2 * HOUR + 600_000
    assert s.linked_via == (("payment", 6), ("template", 5), ("subnet", 4))
    # the most shared of each kind: payment:pay-2 (2 members) is not, tls:… ties no one
    assert s.top_indicators == (("payment:pay-1", 6), ("subnet:10.1.2.0/24", 4))
    assert [(f.feature, f.value, f.baseline) for f in s.families] == [
        ("youth", 1.0, 0.1),
        ("harvest", 0.9, 0.3),
        ("coordination", 0.4, None),
    ]
    assert s.requests == sum(REQUESTS.values()) and s.distinct_subnets == 2
    assert s.alerts == 2 + 6


def test_most_severe_campaign_first_then_most_recent() -> None:
    s = AlertStore()
    req = {f"a{i}": 1 for i in range(60)} | {f"b{i}": 1 for i in range(60)}
    members_a, members_b = [f"a{i}" for i in range(3)], [f"b{i}" for i in range(60)]
    s.add_all(campaign_round("cmp-a", now_ms=T0 + HOUR, members=members_a, new=[], requests=req))
    s.add_all(campaign_round("cmp-b", now_ms=T0, members=members_b, new=[], requests=req))
    s.add_all(
        campaign_round("cmp-c", now_ms=T0 + 2 * HOUR, members=members_a, new=[], requests=req)
    )
    assert [c.campaign_id for c in campaign_summaries(s.snapshot())] == ["cmp-b", "cmp-c", "cmp-a"]


def test_member_alerts_alone_make_a_campaign() -> None:
    """A console that missed the campaign alert still lists the campaign from its members."""
    s = AlertStore()
    alerts = campaign_round(CID, now_ms=T0, members=MEMBERS, new=MEMBERS, requests=REQUESTS)
    s.add_all(alerts[1:])
    [c] = campaign_summaries(s.snapshot())
    assert c.members_now == 6 and c.linked_via == () and c.distinct_subnets is None


def test_detail_members_timeline_and_graph(store: AlertStore) -> None:
    d = campaign_detail(store.snapshot(), CID)
    assert d is not None
    assert [m.account_id for m in d.members] == MEMBERS  # joined order
    x00 = d.members[0]
    assert x00.alerts == 2  # its campaign alert and its own account-window alert
    assert x00.indicators == ("payment:pay-1", "subnet:10.1.2.0/24")
    assert x00.requests == REQUESTS["acct-x00"] and x00.severity == "medium"
    t = d.timeline
    assert t.hours_ms == (T0, T0 + HOUR, T0 + 2 * HOUR)
    assert t.joined == (3, 0, 3) and t.members == (3, 3, 6) and t.alerts == (4, 0, 4)
    assert [n.id for n in d.graph.indicators] == [
        "payment:pay-1",
        "payment:pay-2",
        "subnet:10.1.2.0/24",
    ]
    assert d.graph.omitted_indicators == 1  # tls:t13|sdk: one member only
    assert [a.evidence["accounts"] for a in d.history] == [6, 3]
    assert campaign_detail(store.snapshot(), "cmp-unknown") is None


def test_member_table_sorts_and_searches(store: AlertStore) -> None:
    d = campaign_detail(store.snapshot(), CID)
    assert d is not None
    by_req = member_table(d.members, sort="requests", desc=True)
    assert [m.account_id for m in by_req] == MEMBERS[::-1]
    assert member_table(d.members, sort="alerts", desc=True)[0].account_id == "acct-x00"
    found = member_table(d.members, query="SUBNET:10.1 acct-x0")
    assert [m.account_id for m in found] == MEMBERS[:4]
    assert member_table(d.members, query="x05 tls:t13") == [d.members[5]]
    assert member_table(d.members, sort="no-such-column") == list(d.members)
