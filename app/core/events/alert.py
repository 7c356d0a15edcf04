"""AlertEvent v1: what hydrawatch emits for on-call and the downstream rate-limiter.

``alert_id`` is derived from entity, detector and window, so re-processing the
same window yields the same id and consumers can deduplicate on it.

>>> alert_id_for("account", "a1", "account_window_hst", 0, 600_000)
'b51b2c00cd5329c0ba93393b8e5d9b2a'
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ACTIONS",
    "SEVERITIES",
    "Action",
    "AlertEvent",
    "EntityType",
    "Reason",
    "Severity",
    "alert_id_for",
]

EntityType = Literal["account", "subnet", "asn", "fingerprint", "campaign"]
Severity = Literal["low", "medium", "high", "critical"]
Action = Literal["observe", "verify", "throttle", "block"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
ACTIONS: tuple[Action, ...] = ("observe", "verify", "throttle", "block")


def alert_id_for(
    entity_type: str, entity_id: str, detector: str, window_start_ms: int, window_end_ms: int
) -> str:
    """Deterministic alert id: same entity, detector and window → same id."""
    key = f"{entity_type}|{entity_id}|{detector}|{window_start_ms}|{window_end_ms}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Reason(BaseModel):
    """One contributing feature: its value in the window against the learned baseline."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: float
    baseline: float | None = None
    detail: str = ""


class AlertEvent(BaseModel):
    """An alert about one entity (schema v1)."""

    model_config = ConfigDict(frozen=True)

    alert_id: str = Field(min_length=1, max_length=64)
    ts_ms: int = Field(description="Event time at which the evidence was complete")
    emitted_ms: int = Field(description="Wall-clock time the alert was built")
    entity_type: EntityType
    entity_id: str = Field(max_length=256)
    campaign_id: str | None = None
    severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    detectors: list[str]
    reasons: list[Reason]
    window_start_ms: int
    window_end_ms: int
    evidence: dict[str, int | float]
    action: Action
    action_ttl_s: int = Field(ge=0)
    verdict_id: str | None = Field(
        None,
        description="A benign verdict allows this entity: the action is observe and a "
        "consumer releases any live action on the entity",
    )
    schema_version: Literal[1] = 1
