"""Campaign alerts and the member account alerts that carry their ``campaign_id``.

Severity follows the cluster's evidence; the action follows severity (the
downstream rate-limiter's contract, ``docs/alerts.md``).

>>> severity_of_cluster(families=3, accounts=60), CAMPAIGN_ACTIONS["critical"]
('critical', ('block', 86400))
"""

from __future__ import annotations

from app.core.alerts.build import assemble_alert
from app.core.events.alert import Action, AlertEvent, EntityType, Reason, Severity

__all__ = ["CAMPAIGN_ACTIONS", "SEVERITY_RANK", "campaign_alert", "severity_of_cluster"]

CAMPAIGN_ACTIONS: dict[Severity, tuple[Action, int]] = {
    "low": ("observe", 0),
    "medium": ("verify", 6 * 3600),
    "high": ("throttle", 6 * 3600),
    "critical": ("block", 24 * 3600),
}
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def severity_of_cluster(*, families: int, accounts: int) -> Severity:
    if families >= 3 and accounts >= 50:
        return "critical"
    if families >= 3 or accounts >= 20:
        return "high"
    return "medium"


def campaign_alert(
    *,
    entity_type: EntityType,
    entity_id: str,
    campaign_id: str,
    detector: str,
    severity: Severity,
    score: float,
    window_start_ms: int,
    window_end_ms: int,
    emitted_ms: int,
    reasons: list[Reason],
    evidence: dict[str, int | float],
) -> AlertEvent:
    """A campaign alert (``entity_type="campaign"``) or one of its member account alerts."""
    action, ttl = CAMPAIGN_ACTIONS[severity]
    return assemble_alert(
        entity_type=entity_type,
        entity_id=entity_id,
        campaign_id=campaign_id,
        detector=detector,
        severity=severity,
        score=score,
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
        ts_ms=window_end_ms,
        emitted_ms=emitted_ms,
        reasons=reasons,
        evidence=evidence,
        action=action,
        action_ttl_s=ttl,
    )
