"""Trust: what an account's standing does to the severity and action of its alerts.

The account stage gives every account a trust level per event hour (from its own
events only, so it is the same whatever the batching or the number of workers); the
level travels to the campaign stage on observations and links as one small int:

- :data:`TRUST_ORG`: the account is at least ``trust_min_account_age_days`` old and its
  requests carry an ``org_id`` (a long-standing org account);
- :data:`TRUST_HISTORY`: the account is that old and its 24 h view is a normal history
  (enough requests, harvest score below the member gate, no evidence family);
- :data:`TRUST_NONE`: anything else (young, unknown age, or a harvest-like history).

Policy: trust lowers an alert's severity by one step (the action follows the lowered
severity); org trust also caps the action at ``verify`` — a known org is never
throttled or blocked without a confirmed verdict. The alert says so in a ``trust``
reason, first.

>>> lowered("critical", trust=TRUST_ORG, actions={"high": ("throttle", 3600)})
('high', 'verify', 21600)
>>> lowered("high", trust=TRUST_NONE, actions={"high": ("throttle", 3600)})
('high', 'throttle', 3600)
"""

from __future__ import annotations

from collections.abc import Mapping

from app.core.events.alert import ACTIONS, Action, AlertEvent, Reason, Severity

__all__ = [
    "TRUST_HISTORY",
    "TRUST_NONE",
    "TRUST_ORG",
    "VERIFY_TTL_S",
    "lowered",
    "trust_reason",
    "with_trust",
]

TRUST_NONE, TRUST_HISTORY, TRUST_ORG = 0, 1, 2
#: How long a capped action asks for verification (the tables' ``verify`` TTL).
VERIFY_TTL_S = 6 * 3600
_ONE_LOWER: dict[Severity, Severity] = {
    "critical": "high",
    "high": "medium",
    "medium": "low",
    "low": "low",
}
_RANK = {a: i for i, a in enumerate(ACTIONS)}
_WHY = {
    TRUST_ORG: "org account (org_id) at least {days} days old",
    TRUST_HISTORY: "account at least {days} days old with a normal 24 h history",
}


def lowered(
    severity: Severity, *, trust: int, actions: Mapping[Severity, tuple[Action, int]]
) -> tuple[Severity, Action, int]:
    """Severity, action and TTL of an alert of ``severity`` on an account of ``trust``."""
    if trust == TRUST_NONE:
        return (severity, *actions[severity])
    severity = _ONE_LOWER[severity]
    action, ttl = actions[severity]
    if trust >= TRUST_ORG and _RANK[action] > _RANK["verify"]:
        action, ttl = "verify", VERIFY_TTL_S
    return severity, action, ttl


def trust_reason(
    trust: int, *, min_age_days: int, before: Severity, after: Severity, action: Action
) -> Reason:
    """The reason an analyst reads: why the severity was lowered and the action capped."""
    cap = ", action at most verify without a confirmed verdict" if trust >= TRUST_ORG else ""
    return Reason(
        feature="trust",
        value=float(trust),
        detail=f"{_WHY[trust].format(days=min_age_days)}: severity {before} → {after}{cap} "
        f"({action})",
    )


def with_trust(
    alert: AlertEvent,
    *,
    trust: int,
    actions: Mapping[Severity, tuple[Action, int]],
    min_age_days: int,
) -> AlertEvent:
    """``alert`` with its severity and action adjusted for ``trust`` (itself if none)."""
    if trust == TRUST_NONE:
        return alert
    severity, action, ttl = lowered(alert.severity, trust=trust, actions=actions)
    reason = trust_reason(
        trust, min_age_days=min_age_days, before=alert.severity, after=severity, action=action
    )
    return alert.model_copy(
        update={
            "severity": severity,
            "action": action,
            "action_ttl_s": ttl,
            "reasons": [reason, *alert.reasons],
        }
    )
