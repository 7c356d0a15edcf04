"""``hydrawatch tail-alerts``: follow the alert topic in a terminal, with filters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from app.core.events import AlertEvent
from app.core.events.alert import SEVERITIES

__all__ = ["matches", "render", "tail"]

_COLOUR = {"low": "dim", "medium": "yellow", "high": "red", "critical": "bold red"}


def matches(
    alert: AlertEvent,
    *,
    min_severity: str | None = None,
    entity_type: str | None = None,
    campaign_id: str | None = None,
) -> bool:
    """Does the alert pass the filters?

    >>> a = AlertEvent(alert_id="x", ts_ms=0, emitted_ms=0, entity_type="account",
    ...     entity_id="a", campaign_id="cmp-1", severity="medium", score=0.5, detectors=[],
    ...     reasons=[], window_start_ms=0, window_end_ms=1, evidence={}, action="verify",
    ...     action_ttl_s=60)
    >>> matches(a, min_severity="high"), matches(a, min_severity="low", campaign_id="cmp-1")
    (False, True)
    """
    if min_severity is not None and SEVERITIES.index(alert.severity) < SEVERITIES.index(
        min_severity  # type: ignore[arg-type]
    ):
        return False
    if entity_type is not None and alert.entity_type != entity_type:
        return False
    return campaign_id is None or alert.campaign_id == campaign_id


def render(alert: AlertEvent) -> str:
    when = datetime.fromtimestamp(alert.ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    reasons = ", ".join(f"{r.feature}={r.value:g}" for r in alert.reasons[:3])
    colour = _COLOUR[alert.severity]
    return (
        f"{when} [{colour}]{alert.severity:8}[/] {alert.action:8} "
        f"{alert.entity_type}:{alert.entity_id} "
        + (f"campaign={alert.campaign_id} " if alert.campaign_id else "")
        + f"score={alert.score:.2f} {reasons}"
    )


def tail(
    *,
    bootstrap: str,
    topic: str,
    min_severity: str | None,
    entity_type: str | None,
    campaign_id: str | None,
    from_beginning: bool,
    max_seconds: float | None,
    as_json: bool,
    client_kwargs: dict[str, Any] | None = None,
) -> int:
    """Print matching alerts until ``max_seconds`` (None: follow); returns how many."""
    from kafka import KafkaConsumer

    if min_severity is not None and min_severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    out = Console(highlight=False, soft_wrap=True)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **(client_kwargs or {}),
    )
    shown = 0
    t0 = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - t0 < max_seconds:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    try:
                        alert = AlertEvent.model_validate_json(r.value)
                    except ValidationError:
                        out.print(f"[dim]offset {r.offset}: not an AlertEvent v1[/]")
                        continue
                    if matches(
                        alert,
                        min_severity=min_severity,
                        entity_type=entity_type,
                        campaign_id=campaign_id,
                    ):
                        shown += 1
                        if as_json:
                            print(r.value.decode(), flush=True)
                        else:
                            out.print(render(alert))
    finally:
        consumer.close()
    return shown
