from __future__ import annotations

import pytest

from app.core.alerts.build import ACTION_FOR_SEVERITY, build_alert, rank_reasons, severity_for
from app.core.events.alert import AlertEvent


@pytest.mark.parametrize(
    ("score", "sev"), [(0.81, "low"), (0.85, "medium"), (0.9, "high"), (0.99, "critical")]
)
def test_severity_bands(score: float, sev: str) -> None:
    assert severity_for(score=score, threshold=0.8) == sev


def test_per_entity_alerts_never_block() -> None:
    assert all(action != "block" for action, _ in ACTION_FOR_SEVERITY.values())


def test_reasons_rank_by_distance_from_baseline() -> None:
    reasons = rank_reasons(
        {"a": 10.0, "b": 1_000.0, "c": 2.0}, {"a": 9.0, "b": 10.0, "c": 2.0}, top=2
    )
    assert [r.feature for r in reasons] == ["b", "a"]
    assert reasons[0].baseline == 10.0


def _alert(**kw: object) -> AlertEvent:
    args: dict[str, object] = dict(
        entity_type="account",
        entity_id="acct-1",
        detector="d",
        score=0.99,
        threshold=0.8,
        window_start_ms=0,
        window_end_ms=600_000,
        ts_ms=600_000,
        emitted_ms=1,
        features={"requests": 100.0},
        baseline={"requests": 3.0},
        evidence={"requests": 100},
    )
    args.update(kw)
    return build_alert(**args)  # type: ignore[arg-type]


def test_alert_id_is_deterministic_per_entity_detector_window() -> None:
    a, b = _alert(emitted_ms=1), _alert(emitted_ms=999)
    assert a.alert_id == b.alert_id
    assert _alert(window_start_ms=600_000, window_end_ms=1_200_000).alert_id != a.alert_id
    assert _alert(entity_id="acct-2").alert_id != a.alert_id


def test_alert_fields() -> None:
    a = _alert()
    assert a.schema_version == 1 and a.severity == "critical"
    assert (a.action, a.action_ttl_s) == ACTION_FOR_SEVERITY["critical"]
    # a detector score outside [0, 1] is clamped, not rejected (the model would raise)
    assert _alert(score=1.7).score == 1.0 and _alert(score=-0.2).score == 0.0
