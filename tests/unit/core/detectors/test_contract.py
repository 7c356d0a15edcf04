"""Every detector goes through the same checks.

A detector here is anything that turns request events into AlertEvents inside the
pure core. Each entry builds one over a fixed, labelled mix; the contract: alerts are
schema-valid, deterministic (same input → same alert ids), independent of batching,
restorable from a pickle checkpoint mid-stream, and silent on benign-only traffic.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import jsonschema
import pytest

from app.core.events import AlertEvent, RequestEvent, validate_event
from app.core.events.schema import schema_documents
from app.core.settings import DetectionSettings
from app.core.stages.local import LocalTopology
from app.tools.evaluate.baselines import PerAccountRateBaseline, SubnetDistinctAccountsBaseline
from app.tools.simulate.basic import BasicTraffic, generate_basic

MIX = BasicTraffic(
    benign_accounts=150,
    abusive_accounts=6,
    duration_ms=3 * 3_600_000,
    abuse_start_offset_ms=2 * 3_600_000,
    seed=21,
)
BENIGN = BasicTraffic(benign_accounts=150, abusive_accounts=0, duration_ms=3 * 3_600_000, seed=21)


def _events(cfg: BasicTraffic) -> list[RequestEvent]:
    return [validate_event(e) for e in generate_basic(cfg)]


class EngineDetector:
    """The full core (per-account River model + campaign linkage)."""

    def __init__(self, **settings: object) -> None:
        self.engine = LocalTopology(DetectionSettings(**settings), account_partitions=1)  # type: ignore[arg-type]

    def feed(self, events: list[RequestEvent]) -> list[AlertEvent]:
        return self.engine.process([(0, list(events))])

    def finish(self) -> list[AlertEvent]:
        return self.engine.finish()


class BaselineDetector:
    """Baselines wrapped to emit AlertEvents through the same contract."""

    def __init__(self, kind: str) -> None:
        self.b = (
            PerAccountRateBaseline(max_per_hour=50)
            if kind == "rate"
            else SubnetDistinctAccountsBaseline(min_accounts=3)
        )

    def _alerts(self, flags: list) -> list[AlertEvent]:  # type: ignore[type-arg]
        from app.core.events.alert import alert_id_for

        return [
            AlertEvent(
                alert_id=alert_id_for("account", f.entity_id, f.detector, f.ts_ms, f.ts_ms),
                ts_ms=f.ts_ms,
                emitted_ms=0,
                entity_type="account",
                entity_id=f.entity_id,
                severity=f.severity,
                score=1.0,
                detectors=[f.detector],
                reasons=[],
                window_start_ms=f.ts_ms,
                window_end_ms=f.ts_ms,
                evidence={},
                action="observe",
                action_ttl_s=0,
            )
            for f in flags
        ]

    def feed(self, events: list[RequestEvent]) -> list[AlertEvent]:
        return self._alerts(self.b.process([(e.ts_ms, e.account_id, e.client_ip) for e in events]))

    def finish(self) -> list[AlertEvent]:
        flush = getattr(self.b, "flush", None)
        return self._alerts(flush()) if flush else []


DETECTORS: dict[str, Callable[[], object]] = {
    "core": EngineDetector,
    "core_small_windows": lambda: EngineDetector(window_ms=300_000, linkage_tick_ms=300_000),
    "baseline_rate": lambda: BaselineDetector("rate"),
}
SILENT_ON_BENIGN = {"core", "core_small_windows"}


def _run(det: object, events: list[RequestEvent], chunk: int) -> list[AlertEvent]:
    out: list[AlertEvent] = []
    for i in range(0, len(events), chunk):
        out += det.feed(events[i : i + chunk])  # type: ignore[attr-defined]
    return out + det.finish()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def mix() -> list[RequestEvent]:
    return _events(MIX)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_alerts_are_schema_valid(name: str, mix: list[RequestEvent]) -> None:
    alerts = _run(DETECTORS[name](), mix, 2_000)
    assert alerts, name
    validator = jsonschema.Draft202012Validator(schema_documents()["alert_event.v1.json"])
    for a in alerts:
        validator.validate(a.model_dump(mode="json"))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_deterministic_and_batching_independent(name: str, mix: list[RequestEvent]) -> None:
    a = sorted(x.alert_id for x in _run(DETECTORS[name](), mix, 2_000))
    b = sorted(x.alert_id for x in _run(DETECTORS[name](), mix, 2_000))
    c = sorted(x.alert_id for x in _run(DETECTORS[name](), mix, 333))
    assert a == b == c


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_pickle_checkpoint_restores_midstream(name: str, mix: list[RequestEvent]) -> None:
    half = len(mix) // 2
    straight = DETECTORS[name]()
    expected = _run(straight, mix, 1_000)
    det = DETECTORS[name]()
    first = _run_part(det, mix[:half])
    restored = pickle.loads(pickle.dumps(det))
    rest = _run(restored, mix[half:], 1_000)
    assert sorted(x.alert_id for x in first + rest) == sorted(x.alert_id for x in expected)


def _run_part(det: object, events: list[RequestEvent]) -> list[AlertEvent]:
    out: list[AlertEvent] = []
    for i in range(0, len(events), 1_000):
        out += det.feed(events[i : i + 1_000])  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("name", sorted(SILENT_ON_BENIGN))
def test_silent_on_benign_only_traffic(name: str) -> None:
    assert _run(DETECTORS[name](), _events(BENIGN), 2_000) == []
