"""The trust policy: one severity step lower; org accounts never above verify."""

from __future__ import annotations

import pytest

from app.core.alerts.build import ACTION_FOR_SEVERITY
from app.core.alerts.campaign import CAMPAIGN_ACTIONS, campaign_alert
from app.core.alerts.trust import TRUST_HISTORY, TRUST_NONE, TRUST_ORG, lowered, with_trust
from app.core.events.alert import SEVERITIES, Action, Reason, Severity

TABLES = (ACTION_FOR_SEVERITY, CAMPAIGN_ACTIONS)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("actions", TABLES)
def test_an_org_account_is_never_throttled_or_blocked(
    severity: Severity, actions: dict[Severity, tuple[Action, int]]
) -> None:
    _, action, ttl = lowered(severity, trust=TRUST_ORG, actions=actions)
    assert action in ("observe", "verify")
    assert ttl <= 6 * 3600


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", ("high", "throttle")),
        ("high", ("medium", "verify")),
        ("medium", ("low", "observe")),
        ("low", ("low", "observe")),
    ],
)
def test_history_trust_lowers_one_step_and_does_not_cap(
    severity: Severity, expected: tuple[str, str]
) -> None:
    got = lowered(severity, trust=TRUST_HISTORY, actions=CAMPAIGN_ACTIONS)
    assert got[:2] == expected


def test_no_trust_keeps_the_table() -> None:
    for severity in SEVERITIES:
        assert lowered(severity, trust=TRUST_NONE, actions=CAMPAIGN_ACTIONS) == (
            severity,
            *CAMPAIGN_ACTIONS[severity],
        )


def test_the_alert_says_why_first() -> None:
    alert = campaign_alert(
        entity_type="account",
        entity_id="a1",
        campaign_id="cmp-1",
        detector="campaign_linkage",
        severity="critical",
        score=0.9,
        window_start_ms=0,
        window_end_ms=600_000,
        emitted_ms=0,
        reasons=[Reason(feature="harvest", value=0.9)],
        evidence={"requests": 40},
    )
    assert alert.action == "block"
    out = with_trust(alert, trust=TRUST_ORG, actions=CAMPAIGN_ACTIONS, min_age_days=90)
    assert (out.severity, out.action, out.action_ttl_s) == ("high", "verify", 6 * 3600)
    assert [r.feature for r in out.reasons] == ["trust", "harvest"]
    assert out.reasons[0].detail == (
        "org account (org_id) at least 90 days old: severity critical → high, "
        "action at most verify without a confirmed verdict (verify)"
    )
    assert out.alert_id == alert.alert_id  # the same window's alert, adjusted
    assert with_trust(alert, trust=TRUST_NONE, actions=CAMPAIGN_ACTIONS, min_age_days=90) is alert
