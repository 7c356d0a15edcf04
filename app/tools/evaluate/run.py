"""``hydrawatch evaluate``: run the offline core and the baselines over labelled traffic."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.core.events import AlertEvent, RequestEvent, decode_message
from app.core.settings import DetectionSettings
from app.tools.evaluate.baselines import PerAccountRateBaseline, SubnetDistinctAccountsBaseline
from app.tools.evaluate.labels import Labels, load_labels
from app.tools.evaluate.operating import scored_points, swept_points
from app.tools.evaluate.score import Flag, GroundTruth, score_flags
from app.tools.gcutil import gc_paused
from app.tools.offline import iter_lines, open_input_file

__all__ = ["DETECTORS", "EvaluationInput", "OnEvents", "evaluate_files", "evaluate_scenario"]

DETECTORS = ("hydrawatch", "baseline_account_rate", "baseline_subnet_accounts")
_CHUNK = 5_000

#: Progress of the long phases: (phase, events so far, units done, units in total) —
#: units are the file's bytes while decoding, events while detecting.
OnEvents = Callable[[str, int, int | None, int | None], None]


@dataclass(slots=True)
class EvaluationInput:
    events: list[RequestEvent]
    invalid: int
    decode_s: float


def _load_events(path: Path, on_events: OnEvents | None = None) -> EvaluationInput:
    t0 = time.perf_counter()
    events: list[RequestEvent] = []
    invalid = 0
    with open_input_file(str(path)) as src:
        for n, (_, line) in enumerate(iter_lines(src.reader), start=1):
            d = decode_message(line)
            events.extend(d.events)
            invalid += len(d.dead)
            if on_events is not None and n % _CHUNK == 0:
                on_events("decode", len(events), src.position(), src.size)
    events.sort(key=lambda e: e.ts_ms)
    return EvaluationInput(events, invalid, time.perf_counter() - t0)


def _truth(events: list[RequestEvent], labels: Labels) -> GroundTruth:
    by_campaign: dict[str, list[int]] = {}
    active: set[str] = set()
    for e in events:
        active.add(e.account_id)
        lab = labels.get(e.account_id)
        if (
            lab is not None
            and lab.campaign_id is not None
            and (lab.campaign_first_ms is None or e.ts_ms >= lab.campaign_first_ms)
        ):
            by_campaign.setdefault(lab.campaign_id, []).append(e.ts_ms)
    for lab in labels.values():  # campaigns with no traffic still appear
        if lab.campaign_id is not None:
            by_campaign.setdefault(lab.campaign_id, [])
    return GroundTruth(
        labels=labels,
        start_ms=events[0].ts_ms if events else 0,
        end_ms=events[-1].ts_ms + 1 if events else 0,
        campaign_event_ts={c: np.sort(np.array(v, dtype=np.int64)) for c, v in by_campaign.items()},
        active_accounts=active,
    )


def _run_hydrawatch(
    events: list[RequestEvent],
    settings: DetectionSettings,
    *,
    account_partitions: int = 4,
    on_events: OnEvents | None = None,
) -> tuple[list[AlertEvent], float]:
    """The keyed stages in-process, input split by account as a Kafka producer would."""
    from app.core.stages.local import LocalTopology
    from app.core.stages.partitioner import account_partitioner

    t0 = time.perf_counter()
    part = account_partitioner(account_partitions)
    topo = LocalTopology(settings, account_partitions=account_partitions)
    alerts: list[AlertEvent] = []
    for i in range(0, len(events), _CHUNK):
        by_p: dict[int, list[RequestEvent]] = {}
        for e in events[i : i + _CHUNK]:
            by_p.setdefault(part(e.account_id), []).append(e)
        alerts += topo.process(sorted(by_p.items()))
        if on_events is not None:
            done = min(i + _CHUNK, len(events))
            on_events("detect", done, done, len(events))
    alerts += topo.finish()
    return alerts, time.perf_counter() - t0


#: Baseline parameters swept for the operating points (the defaults first).
RATE_SWEEP: tuple[tuple[int, int], ...] = (
    (300, 2_000),
    (150, 1_000),
    (75, 500),
    (40, 250),
    (20, 120),
    (10, 60),
)
SUBNET_SWEEP: tuple[int, ...] = (10, 5, 20, 40, 80, 160)


def _rate_flags(rows: list[tuple[int, str, str]], per_hour: int, per_day: int) -> list[Flag]:
    return PerAccountRateBaseline(max_per_hour=per_hour, max_per_day=per_day).process(rows)


def _subnet_flags(rows: list[tuple[int, str, str]], min_accounts: int) -> list[Flag]:
    b = SubnetDistinctAccountsBaseline(min_accounts=min_accounts)
    return b.process(rows) + b.flush()


def _flags(alerts: list[AlertEvent]) -> list[Flag]:
    return [
        Flag(
            a.ts_ms,
            a.entity_type,
            a.entity_id,
            a.severity,
            "hydrawatch",
            a.campaign_id,
            a.action,
            a.score,
        )
        for a in alerts
    ]


def evaluate_files(
    events_path: Path,
    labels_path: Path,
    *,
    settings: DetectionSettings,
    name: str,
    out_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
    on_events: OnEvents | None = None,
) -> dict[str, Any]:
    """Score hydrawatch and both baselines on a labelled event file; write report + PNG."""
    labels = load_labels(labels_path)
    with gc_paused():
        data = _load_events(events_path, on_events)
        truth = _truth(data.events, labels)
        alerts, engine_s = _run_hydrawatch(data.events, settings, on_events=on_events)
    rows = [(e.ts_ms, e.account_id, e.client_ip) for e in data.events]
    rate = PerAccountRateBaseline()
    subnet = SubnetDistinctAccountsBaseline()
    flags_by_detector: dict[str, list[Flag]] = {
        "hydrawatch": _flags(alerts),
        rate.name: rate.process(rows),
        subnet.name: subnet.process(rows) + subnet.flush(),
    }
    n = len(data.events)
    report: dict[str, Any] = {
        "name": name,
        **(extra or {}),
        "events": n,
        "invalid_lines": data.invalid,
        "accounts": len(truth.active_accounts),
        "campaign_accounts": sum(
            1 for a in truth.active_accounts if (lab := labels.get(a)) and lab.campaign_id
        ),
        "start_ms": truth.start_ms,
        "end_ms": truth.end_ms,
        "throughput": {
            "decode_s": round(data.decode_s, 3),
            "engine_s": round(engine_s, 3),
            "events_per_s": round(n / (data.decode_s + engine_s), 1) if n else 0.0,
            "engine_events_per_s": round(n / engine_s, 1) if engine_s > 0 else 0.0,
        },
        "detectors": {d: score_flags(f, truth) for d, f in flags_by_detector.items()},
        "operating_points": {
            "hydrawatch": scored_points(flags_by_detector["hydrawatch"], truth),
            rate.name: swept_points(
                [
                    (f"max_per_hour={h}, max_per_day={d}", _rate_flags(rows, h, d))
                    for h, d in RATE_SWEEP
                ],
                truth,
            ),
            subnet.name: swept_points(
                [(f"min_accounts={k}", _subnet_flags(rows, k)) for k in SUBNET_SWEEP], truth
            ),
        },
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{name}.report.json").write_bytes(
            orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )
        from app.tools.evaluate.plot import timeline_png

        timeline_png(
            out_dir / f"{name}.timeline.png",
            data.events,
            labels,
            flags_by_detector,
            report,
            title=name,
        )
    return report


def evaluate_scenario(
    scenario_name: str,
    *,
    settings: DetectionSettings,
    scale: float | None = None,
    seed: int | None = None,
    days: float | None = None,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    on_events: OnEvents | None = None,
) -> dict[str, Any]:
    """Simulate a shipped (or file) scenario and evaluate on it."""
    from app.tools.simulate.run import build, write_files
    from app.tools.simulate.scenario import load_scenario

    scenario = load_scenario(scenario_name).with_overrides(seed=seed, days=days)
    eff_scale = scale if scale is not None else scenario.default_scale
    t0 = time.perf_counter()
    sim = build(scenario, scale=eff_scale)
    with tempfile.TemporaryDirectory(prefix="hydrawatch-eval-") as tmp:
        events_path = Path(tmp) / "events.jsonl"
        labels_path = Path(tmp) / "labels.csv"
        summary = write_files(sim, events_path, labels_path)
        sim_s = time.perf_counter() - t0
        if progress:
            progress(f"{scenario.name}: simulated {summary.events:,} events in {sim_s:.1f}s")
        return evaluate_files(
            events_path,
            labels_path,
            settings=settings,
            name=scenario.name,
            out_dir=out_dir,
            extra={
                "scenario": scenario.name,
                "scale": eff_scale,
                "seed": scenario.seed,
                "days": scenario.days,
                "simulate_s": round(sim_s, 3),
            },
            on_events=on_events,
        )
