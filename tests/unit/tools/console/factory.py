"""A small campaign as the campaign stage would alert it, built with the real builders."""

from __future__ import annotations

from app.core.alerts.campaign import campaign_alert, severity_of_cluster
from app.core.alerts.entity import entity_alert
from app.core.events import AlertEvent, Reason
from app.core.stages.records import LinkInput, TickLinks

__all__ = ["HOUR", "T0", "account_window_alert", "campaign_round", "links_record", "subnet_alert"]

HOUR = 3_600_000
T0 = 1_772_400_000_000 - 1_772_400_000_000 % HOUR  # an hour boundary
REASONS = [
    Reason(feature="youth", value=1.0, baseline=0.1, detail="1.00 in cluster vs 0.10 overall"),
    Reason(feature="harvest", value=0.9, baseline=0.3, detail="0.90 in cluster vs 0.30 overall"),
    Reason(feature="coordination", value=0.4, baseline=None, detail="0.40 in cluster"),
]


def campaign_round(
    cid: str,
    *,
    now_ms: int,
    members: list[str],
    new: list[str],
    requests: dict[str, int],
    families: int = 3,
    linked_via: dict[str, int] | None = None,
) -> list[AlertEvent]:
    """The campaign alert of one tick plus the member alerts of the accounts in ``new``."""
    severity = severity_of_cluster(families=families, accounts=len(members))
    total = sum(requests[a] for a in members)
    common = {
        "campaign_id": cid,
        "detector": "campaign_linkage",
        "severity": severity,
        "score": 0.9,
        "window_start_ms": now_ms - 24 * HOUR,
        "window_end_ms": now_ms,
        "emitted_ms": now_ms + 5,
        "reasons": REASONS,
    }
    out = [
        campaign_alert(
            entity_type="campaign",
            entity_id=cid,
            evidence={
                "accounts": len(members),
                "requests": total,
                "distinct_subnets": 2,
                "families": families,
                **{f"linked_via_{k}": n for k, n in (linked_via or {}).items()},
            },
            **common,  # type: ignore[arg-type]
        )
    ]
    out += [
        campaign_alert(
            entity_type="account",
            entity_id=a,
            evidence={
                "requests": requests[a],
                "campaign_accounts": len(members),
                "campaign_requests": total,
            },
            **common,  # type: ignore[arg-type]
        )
        for a in new
    ]
    return out


def subnet_alert(subnet: str, *, now_ms: int, accounts: int = 12) -> AlertEvent:
    features = {
        "accounts": float(accounts),
        "harvest": 0.9,
        "youth": 1.0,
        "mismatch": 1.0,
        "risky_ip": 0.2,
        "requests_24h": 120.0,
    }
    return entity_alert(
        key=f"subnet:{subnet}",
        entity_type="subnet",
        detector="subnet_window_hst",
        score=0.8,
        features=features,
        baseline=dict.fromkeys(features, 0.1),
        accounts=accounts,
        now_ms=now_ms,
        emitted_ms=now_ms,
    )


def account_window_alert(account: str, *, now_ms: int) -> AlertEvent:
    from app.core.alerts import build_alert

    return build_alert(
        entity_type="account",
        entity_id=account,
        detector="account_window_hst",
        score=0.97,
        threshold=0.8,
        window_start_ms=now_ms - 600_000,
        window_end_ms=now_ms,
        ts_ms=now_ms,
        emitted_ms=now_ms,
        features={"requests": 40.0, "harvest": 0.9},
        baseline={"requests": 3.0, "harvest": 0.2},
        evidence={"requests": 40, "prompt_tokens": 1, "completion_tokens": 1, "distinct_ips": 1},
    )


def links_record(
    source: int, tick_ms: int, links: list[tuple[str, str, int]], *, refresh: bool = False
) -> LinkInput:
    """(account, pivot key, requests) links of one tick of one pivot partition."""
    return LinkInput(
        source,
        tick_ms,
        [TickLinks(tick_ms, refresh, [(a, k, n, 0, 0, 0, 0, 0, 0, 0, 0, 0) for a, k, n in links])],
    )
