"""``hydrawatch evaluate``: run the offline core and the baselines over labelled traffic."""

from __future__ import annotations

import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from app.core.events import AlertEvent, decode_message
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
_HOUR_MS = 3_600_000

#: Progress of the long phases: (phase, events so far, units done, units in total) —
#: units are the file's bytes while decoding, events while detecting.
OnEvents = Callable[[str, int, int | None, int | None], None]


@dataclass(slots=True)
class EvaluationInput:
    """What one streaming pass over a labelled file keeps: compact rows, not events.

    Rows (event time, account, client address) as arrays in event-time order, for the
    baselines; the ground truth; hourly benign and campaign request counts for the
    timeline. Memory grows by 16 bytes per event, not by a decoded event's kilobytes.
    """

    ts_ms: np.ndarray
    account_idx: np.ndarray
    ip_idx: np.ndarray
    accounts: list[str]
    ips: list[str]
    truth: GroundTruth
    #: hour since the first event → [benign, campaign] requests
    hourly: np.ndarray
    invalid: int
    decode_s: float

    @property
    def n(self) -> int:
        return int(self.ts_ms.size)

    def rows(self) -> Iterator[tuple[int, str, str]]:
        """(ts_ms, account_id, client_ip) in event-time order, made as they are read."""
        accounts, ips = self.accounts, self.ips
        for ts, a, ip in zip(
            self.ts_ms.tolist(), self.account_idx.tolist(), self.ip_idx.tolist(), strict=True
        ):
            yield ts, accounts[a], ips[ip]


def _scan(path: Path, labels: Labels, on_events: OnEvents | None = None) -> EvaluationInput:
    """One pass over the file: rows, ground truth and hourly counts (streamed)."""
    t0 = time.perf_counter()
    ts_l: array[int] = array("q")
    acc_l: array[int] = array("i")
    ip_l: array[int] = array("i")
    campaign_l: array[int] = array("b")
    account_ix: dict[str, int] = {}
    ip_ix: dict[str, int] = {}
    by_campaign: dict[str, list[int]] = {}
    invalid = n = 0
    with open_input_file(str(path)) as src:
        for lines, (_, line) in enumerate(iter_lines(src.reader), start=1):
            d = decode_message(line)
            invalid += len(d.dead)
            for e in d.events:
                n += 1
                a = account_ix.setdefault(e.account_id, len(account_ix))
                ts_l.append(e.ts_ms)
                acc_l.append(a)
                ip_l.append(ip_ix.setdefault(e.client_ip, len(ip_ix)))
                lab = labels.get(e.account_id)
                cid = lab.campaign_id if lab is not None else None
                first = lab.campaign_first_ms if lab is not None else None
                in_campaign = cid is not None and (first is None or e.ts_ms >= first)
                campaign_l.append(in_campaign)
                if cid is not None and in_campaign:
                    by_campaign.setdefault(cid, []).append(e.ts_ms)
            if on_events is not None and lines % _CHUNK == 0:
                on_events("decode", n, src.position(), src.size)
    for lab in labels.values():  # campaigns with no traffic still appear
        if lab.campaign_id is not None:
            by_campaign.setdefault(lab.campaign_id, [])
    ts = np.frombuffer(ts_l, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    is_campaign = np.frombuffer(campaign_l, dtype=np.int8)[order]
    hourly = np.zeros((0, 2))
    if ts.size:
        hour = (ts - ts[0]) // _HOUR_MS
        hourly = np.zeros((int(hour[-1]) + 1, 2))
        np.add.at(hourly, (hour, is_campaign.astype(np.int64)), 1)
    truth = GroundTruth(
        labels=labels,
        start_ms=int(ts[0]) if ts.size else 0,
        end_ms=int(ts[-1]) + 1 if ts.size else 0,
        campaign_event_ts={c: np.sort(np.array(v, dtype=np.int64)) for c, v in by_campaign.items()},
        active_accounts=set(account_ix),
    )
    return EvaluationInput(
        ts_ms=ts,
        account_idx=np.frombuffer(acc_l, dtype=np.int32)[order],
        ip_idx=np.frombuffer(ip_l, dtype=np.int32)[order],
        accounts=list(account_ix),
        ips=list(ip_ix),
        truth=truth,
        hourly=hourly,
        invalid=invalid,
        decode_s=time.perf_counter() - t0,
    )


def _run_hydrawatch(
    path: Path,
    settings: DetectionSettings,
    *,
    account_partitions: int = 4,
    on_events: OnEvents | None = None,
) -> tuple[list[AlertEvent], float]:
    """The keyed stages in-process over the streamed file: ``hydrawatch detect``'s path
    (decode limits, reorder buffer, input split by account as a Kafka producer would)."""
    from app.tools.offline import detect_file

    t0 = time.perf_counter()
    alerts: list[AlertEvent] = []

    def progress(summary: Any, src: Any) -> None:
        if on_events is not None:
            on_events("detect", summary.events, src.position(), src.size)

    detect_file(
        str(path),
        settings=settings,
        on_alert=alerts.append,
        partitions=account_partitions,
        on_progress=progress,
        progress_every_lines=_CHUNK,
    )
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


def _rate_flags(data: EvaluationInput, per_hour: int, per_day: int) -> list[Flag]:
    b = PerAccountRateBaseline(max_per_hour=per_hour, max_per_day=per_day)
    return b.process(data.rows())


def _subnet_flags(data: EvaluationInput, min_accounts: int) -> list[Flag]:
    b = SubnetDistinctAccountsBaseline(min_accounts=min_accounts)
    return b.process(data.rows()) + b.flush()


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
        data = _scan(events_path, labels, on_events)
        alerts, engine_s = _run_hydrawatch(events_path, settings, on_events=on_events)
    truth = data.truth
    rate_runs = [
        (f"max_per_hour={h}, max_per_day={d}", _rate_flags(data, h, d)) for h, d in RATE_SWEEP
    ]
    subnet_runs = [(f"min_accounts={k}", _subnet_flags(data, k)) for k in SUBNET_SWEEP]
    flags_by_detector: dict[str, list[Flag]] = {
        "hydrawatch": _flags(alerts),
        PerAccountRateBaseline.name: rate_runs[0][1],  # the defaults
        SubnetDistinctAccountsBaseline.name: subnet_runs[0][1],
    }
    n = data.n
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
            PerAccountRateBaseline.name: swept_points(rate_runs, truth),
            SubnetDistinctAccountsBaseline.name: swept_points(subnet_runs, truth),
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
            data.truth.start_ms,
            data.hourly,
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
