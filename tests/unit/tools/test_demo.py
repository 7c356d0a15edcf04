"""``hydrawatch demo``'s displays: accounts counted by label, campaigns shown plainly."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from rich.console import Console
from rich.progress import Progress

from app.tools.demo import DemoSummary, _Display, alerts_table, campaigns, summary_table


def _alert(entity_type: str, entity_id: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "alert_id": f"{entity_type}-{entity_id}",
        "ts_ms": 1_767_229_200_000,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "campaign_id": None,
        "severity": "high",
        "score": 0.97,
        "reasons": [
            {"feature": "youth", "value": 1.0, "baseline": 0.0134, "detail": "1.00 in cluster"}
        ],
        "evidence": {},
        "action": "throttle",
        "action_ttl_s": 21_600,
    }
    base.update(kw)
    return base


CAMPAIGN = _alert(
    "campaign",
    "cmp-1a2b3c",
    campaign_id="cmp-1a2b3c",
    evidence={"accounts": 6, "families": 3, "linked_via_payment": 6, "linked_via_subnet": 5},
    reasons=[
        {"feature": "youth", "value": 1.0, "baseline": 0.01, "detail": "1.00 in cluster vs 0.01"}
    ],
)
ALERTS = [
    _alert("account", "acct-x0000"),
    _alert("account", "acct-x0001", campaign_id="cmp-1a2b3c"),
    _alert("account", "acct-x0001"),
    CAMPAIGN,
    _alert("subnet", "203.0.113.0/24"),
    _alert("account", "acct-00042"),
]


def _text(renderable: Any, *, terminal: bool = False) -> str:
    out = StringIO()
    Console(file=out, width=200, force_terminal=terminal, color_system=None).print(renderable)
    return out.getvalue()


def test_summary_counts_accounts_by_label_not_other_entities() -> None:
    s = DemoSummary(
        alerts=ALERTS, abusive_accounts=frozenset({"acct-x0000", "acct-x0001", "acct-x0002"})
    )
    assert s.abusive_flagged == {"acct-x0000", "acct-x0001"}
    assert s.benign_flagged == {"acct-00042"}  # not the campaign, not the subnet
    text = _text(summary_table(s, "http://127.0.0.1:9108/metrics"))
    assert re.search(r"abusive accounts alerted\s*│\s*2 of 3\s", text), text
    assert re.search(r"benign accounts alerted\s*│\s*1\s", text), text
    assert "cmp-1a2b3c: 6 members, linked via payment 6, subnet 5; high, throttle 6h" in text
    assert "entity alerts" in text and "subnet 1" in text


def test_campaign_view_and_alert_table_say_what_the_alert_says() -> None:
    (view,) = campaigns(ALERTS)
    assert (view.campaign_id, view.members) == ("cmp-1a2b3c", 6)
    assert view.linked_via == {"payment": 6, "subnet": 5}
    text = _text(alerts_table(ALERTS))
    assert "youth 1.00 in cluster" in text  # the alert's own detail, not "(x74.6 baseline)"
    assert "baseline)" not in text
    assert "subnet" in text.split("203.0.113.0/24")[0].splitlines()[-1]  # entity-type column


def test_interrupted_summary_says_its_counts_are_as_of_ctrl_c() -> None:
    s = DemoSummary(produced_events=900, produced_invalid=1, processed_events=850.0)
    s.interrupted = True
    text = _text(summary_table(s, "url"))
    assert "dead letters" in text and "0 of 1 malformed messages sent" in text
    assert "as of Ctrl-C: the worker had processed 850 of 900 events sent" in text


def test_not_a_terminal_prints_one_line_per_new_alert() -> None:
    out = StringIO()
    console = Console(file=out, width=100)  # a file: not a terminal
    with _Display(console, Progress(console=console)) as d:
        d.update(ALERTS[:2])
        d.update(ALERTS)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(ALERTS)
    assert not any(c in out.getvalue() for c in "│┃━")
    (line,) = [x for x in lines if "campaign:cmp-1a2b3c" in x]
    assert "members=6 linked via: payment 6, subnet 5;" in line
    assert lines[1].startswith("01:00 high     throttle 6h account:acct-x0001 campaign=cmp-1a2b3c")
