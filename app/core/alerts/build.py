"""Build AlertEvents from a detector verdict.

>>> severity_for(score=0.95, threshold=0.8)
'high'
>>> ACTION_FOR_SEVERITY["medium"]
('verify', 21600)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from app.core.events.alert import Action, AlertEvent, EntityType, Reason, Severity, alert_id_for

__all__ = ["ACTION_FOR_SEVERITY", "assemble_alert", "build_alert", "rank_reasons", "severity_for"]

#: Per-entity anomalies never block on their own: blocking needs campaign evidence.
ACTION_FOR_SEVERITY: dict[Severity, tuple[Action, int]] = {
    "low": ("observe", 0),
    "medium": ("verify", 6 * 3600),
    "high": ("throttle", 3600),
    "critical": ("throttle", 6 * 3600),
}


def severity_for(*, score: float, threshold: float) -> Severity:
    """Severity from how far the score sits between the threshold and 1."""
    span = max(1.0 - threshold, 1e-9)
    margin = (score - threshold) / span
    if margin >= 0.75:
        return "critical"
    if margin >= 0.5:
        return "high"
    if margin >= 0.2:
        return "medium"
    return "low"


def rank_reasons(
    features: Mapping[str, float], baseline: Mapping[str, float | None], *, top: int = 3
) -> list[Reason]:
    """The features furthest from their baseline (log-ratio distance), most first."""

    def distance(name: str) -> float:
        b = baseline.get(name)
        v = features[name]
        if b is None:
            return 0.0
        return abs(math.log1p(max(v, 0.0)) - math.log1p(max(b, 0.0)))

    names = sorted(features, key=distance, reverse=True)[:top]
    out = []
    for name in names:
        b = baseline.get(name)
        v = features[name]
        detail = f"{v:.3g} vs baseline {b:.3g}" if b is not None else f"{v:.3g}"
        out.append(
            Reason(
                feature=name,
                value=round(v, 6),
                baseline=None if b is None else round(b, 6),
                detail=detail,
            )
        )
    return out


def build_alert(
    *,
    entity_type: EntityType,
    entity_id: str,
    detector: str,
    score: float,
    threshold: float,
    window_start_ms: int,
    window_end_ms: int,
    ts_ms: int,
    emitted_ms: int,
    features: Mapping[str, float],
    baseline: Mapping[str, float | None],
    evidence: dict[str, int | float],
    campaign_id: str | None = None,
) -> AlertEvent:
    severity = severity_for(score=score, threshold=threshold)
    action, ttl_s = ACTION_FOR_SEVERITY[severity]
    return assemble_alert(
        entity_type=entity_type,
        entity_id=entity_id,
        campaign_id=campaign_id,
        detector=detector,
        severity=severity,
        score=score,
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
        ts_ms=ts_ms,
        emitted_ms=emitted_ms,
        reasons=rank_reasons(features, baseline),
        evidence=evidence,
        action=action,
        action_ttl_s=ttl_s,
    )


def assemble_alert(
    *,
    entity_type: EntityType,
    entity_id: str,
    campaign_id: str | None,
    detector: str,
    severity: Severity,
    score: float,
    window_start_ms: int,
    window_end_ms: int,
    ts_ms: int,
    emitted_ms: int,
    reasons: list[Reason],
    evidence: dict[str, int | float],
    action: Action,
    action_ttl_s: int,
) -> AlertEvent:
    """The one place an AlertEvent is put together: its id from entity, detector and
    window, the score clamped to [0, 1]."""
    return AlertEvent(
        alert_id=alert_id_for(entity_type, entity_id, detector, window_start_ms, window_end_ms),
        ts_ms=ts_ms,
        emitted_ms=emitted_ms,
        entity_type=entity_type,
        entity_id=entity_id,
        campaign_id=campaign_id,
        severity=severity,
        score=round(min(max(score, 0.0), 1.0), 6),
        detectors=[detector],
        reasons=reasons,
        window_start_ms=window_start_ms,
        window_end_ms=window_end_ms,
        evidence=evidence,
        action=action,
        action_ttl_s=action_ttl_s,
    )
