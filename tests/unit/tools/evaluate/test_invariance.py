"""The comparison table on hand-made alerts."""

from __future__ import annotations

import random
from dataclasses import replace

from app.core.events import AlertEvent
from app.tools.evaluate.invariance import (
    Recall,
    first_request_times,
    invariance_table,
    markdown,
    table_diff,
)
from app.tools.evaluate.labels import Label
from app.tools.evaluate.score import Flag

H = 3_600_000
M = 60_000
END = 72 * H

LABELS = {
    # campaign A starts at hour 10 (a1), a3 joins 12 h before the end
    "a1": Label("A", "hydra", 10 * H),
    "a2": Label("A", "hydra", 11 * H),
    "a3": Label("A", "hydra", 60 * H),
    # campaign B: b2 is a hijacked account with benign history before hour 30
    "b1": Label("B", "low_slow", 20 * H),
    "b2": Label("B", "mixed", 30 * H),
    "r1": Label(None, "regular", None),
    "r2": Label(None, "regular", None),
    "e1": Label(None, "enterprise_eval", None),
    "e2": Label(None, "enterprise_eval", None),
    "e3": Label(None, "enterprise_eval", None),  # never sends anything
    "u1": Label(None, "university", None),
}
FIRST = {a: 0 for a in LABELS if a != "e3"} | {"a3": 60 * H, "b2": 1 * H, "zz": 5 * H}


def acct(ts: int, a: str, action: str = "observe", cid: str | None = None) -> Flag:
    return Flag(ts, "account", a, "high", "hydrawatch", cid, action)


def flags() -> list[Flag]:
    return [
        acct(10 * H + 30 * M, "a1"),  # A named 30 min after its start
        acct(30 * H, "a2", "throttle"),  # a2 within 24 h, not within 1 h
        acct(5 * H, "b2", "block"),  # hijacked account before its campaign traffic
        acct(2 * H, "r1"),
        acct(3 * H, "r1", "verify"),
        acct(4 * H, "e1", "throttle"),
        acct(6 * H, "e2", "verify"),
        acct(7 * H, "zz"),  # unlabelled account: benign
        Flag(8 * H, "subnet", "10.0.0.0/24", "low", "hydrawatch", None, "block"),
    ]


def test_rows_per_campaign_and_overall() -> None:
    t = invariance_table(flags(), LABELS, FIRST, end_ms=END)
    a, b = t.campaigns
    assert (a.campaign, a.accounts, a.first_alert_min) == ("A", 3, 30.0)
    # a3 joined 12 h before the end: eligible for the 1 h window, not for 24 h.
    assert a.within_1h == Recall(1, 3) and a.within_24h == Recall(2, 2)
    # b2's block came before its campaign traffic: no detection of B.
    assert (b.campaign, b.accounts, b.first_alert_min) == ("B", 2, None)
    assert b.within_24h == Recall(0, 2)
    assert t.overall.campaign == "all" and t.overall.accounts == 5
    assert t.overall.first_alert_min is None  # B never named
    assert t.overall.within_24h == Recall(2, 4)
    # r1, e1, e2, zz; the hijacked b2 carries a campaign label, subnets are not accounts.
    assert t.benign_alerted == 4
    assert t.benign_accounts == 6  # r1 r2 e1 e2 u1 zz (e3 sent nothing)
    assert t.enforced == (("enterprise_eval", 1, 2), ("university", 0, 1))


def test_campaign_alert_named_by_majority_and_worst_delay_overall() -> None:
    extra = [
        acct(22 * H, "b1", cid="K"),
        acct(32 * H, "b2", cid="K"),
        Flag(20 * H + 90 * M, "campaign", "K", "critical", "hydrawatch", "K", "observe"),
    ]
    t = invariance_table(flags() + extra, LABELS, FIRST, end_ms=END)
    assert t.campaigns[1].first_alert_min == 90.0
    assert t.campaigns[1].within_1h == Recall(0, 2)
    assert t.campaigns[1].within_24h == Recall(2, 2)
    assert t.overall.first_alert_min == 90.0  # the later of A (30) and B (90)


def test_equivalent_alerts_give_equal_tables_and_diff_names_cells() -> None:
    base = invariance_table(flags(), LABELS, FIRST, end_ms=END)
    shuffled = [*flags(), acct(40 * H, "a1"), acct(50 * H, "r1")]  # repeats change nothing
    random.Random(3).shuffle(shuffled)
    same = invariance_table(shuffled, LABELS, FIRST, end_ms=END)
    assert same == base and table_diff(base, same) == []
    changed = [*flags()[:-3], replace(flags()[-3], action="block"), acct(9 * H, "r2")]
    other = invariance_table(changed, LABELS, FIRST, end_ms=END, groups=("enterprise_eval",))
    # zz dropped and r2 added: as many benign accounts alerted, e2 now blocked.
    assert table_diff(base, other) == [
        "enforced.enterprise_eval: [1, 2] != [2, 2]",
        "enforced.university: [0, 1] != None",
    ]
    assert table_diff(base, invariance_table([], LABELS, FIRST, end_ms=END))


def test_alert_events_are_accepted_and_markdown_renders() -> None:
    ev = AlertEvent(
        alert_id="x",
        ts_ms=10 * H + 5 * M,
        emitted_ms=0,
        entity_type="account",
        entity_id="a1",
        severity="high",
        score=0.9,
        detectors=["d"],
        reasons=[],
        window_start_ms=0,
        window_end_ms=1,
        evidence={},
        action="throttle",
        action_ttl_s=60,
    )
    t = invariance_table([ev], LABELS, FIRST, end_ms=END)
    assert t.campaigns[0].first_alert_min == 5.0
    md = markdown(t)
    assert md.splitlines()[0].startswith("| campaign | accounts | first alert (min)")
    assert "| all | 5 | never |" in md and "| 0/6 | 0/2 | 0/1 |" in md
    assert t.as_dict()["campaigns"]["A"]["within_1h"] == [1, 3]


def test_first_request_times_and_explicit_campaign_start() -> None:
    assert first_request_times([(5, "a"), (3, "b"), (2, "a"), (9, "b")]) == {"a": 2, "b": 3}
    t = invariance_table(
        flags(), LABELS, FIRST, end_ms=END, campaign_start_ms={"A": 10 * H - 30 * M}
    )
    assert t.campaigns[0].first_alert_min == 60.0
