"""Entity alerts (subnet, ASN, fingerprint, template): infrastructure for on-call to see.

Never enforcing: an entity alert is ``low`` / ``observe``; accounts are only acted on
through campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.core.alerts.build import assemble_alert
from app.core.events.alert import AlertEvent, Reason

__all__ = ["entity_alert", "entity_id_of"]

_DAY_MS = 86_400_000
_REASONS = ("accounts", "harvest", "youth", "mismatch", "risky_ip")


def entity_id_of(key: str, entity_type: str) -> str:
    """Alert entity id of a pivot key: the bare value for subnets/ASNs, else the key.

    >>> entity_id_of("subnet:10.1.2.0/24", "subnet"), entity_id_of("tls:t13|ua", "fingerprint")
    ('10.1.2.0/24', 'tls:t13|ua')
    """
    return key[key.index(":") + 1 :] if entity_type in ("subnet", "asn") else key


def entity_alert(
    *,
    key: str,
    entity_type: str,
    detector: str,
    score: float,
    features: Mapping[str, float],
    baseline: Mapping[str, float | None],
    accounts: int,
    now_ms: int,
    emitted_ms: int,
) -> AlertEvent:
    eid = entity_id_of(key, entity_type)
    reasons = [
        Reason(
            feature=k,
            value=round(features[k], 4),
            baseline=None if baseline.get(k) is None else round(float(baseline[k] or 0.0), 4),
            detail=f"{features[k]:.3g} vs median {baseline.get(k) or 0:.3g}",
        )
        for k in _REASONS
    ]
    start = now_ms - _DAY_MS
    return assemble_alert(
        entity_type=entity_type,  # type: ignore[arg-type]
        entity_id=eid,
        campaign_id=None,
        detector=detector,
        severity="low",
        score=score,
        window_start_ms=start,
        window_end_ms=now_ms,
        ts_ms=now_ms,
        emitted_ms=emitted_ms,
        reasons=reasons,
        evidence={"accounts": accounts, "requests": int(features["requests_24h"])},
        action="observe",
        action_ttl_s=0,
    )
