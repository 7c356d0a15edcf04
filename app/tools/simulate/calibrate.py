"""Derive the benign-traffic parameters from the public traces in ``shared/data``.

``hydrawatch calibrate --data ../shared/data`` reads

- ServeGen "m-large" (Alibaba, Apache-2.0): per-client 10-minute rates,
  inter-arrival CV and token-size quantiles;
- Azure LLM inference trace 2023 (Microsoft, CC-BY-4.0): code and conversation
  request sizes and arrival burstiness;

and writes ``app/tools/simulate/data/traffic_params.json``: only derived numbers
(distribution fits, quantiles, normalised daily/weekly profiles), never the traces.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["PARAMS_PATH", "derive_params", "load_params", "write_params"]

PARAMS_PATH = Path(__file__).with_name("data") / "traffic_params.json"
_QS = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _q(values: np.ndarray, qs: tuple[float, ...] = _QS) -> list[float]:
    return [round(float(x), 4) for x in np.quantile(values, qs)]


def _servegen(path: Path) -> dict[str, Any]:
    rates: dict[int, list[float]] = defaultdict(list)
    client_hourly: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(24))
    cvs: dict[int, list[float]] = defaultdict(list)
    by_window: dict[int, float] = defaultdict(float)
    with gzip.open(path, "rt") as fh:
        for row in csv.DictReader(fh):
            client = int(row["client_id"])
            rate = float(row["rate_rps"])
            rates[client].append(rate)
            by_window[int(row["window_start_s"])] += rate
            client_hourly[client][(int(row["window_start_s"]) // 3600) % 24] += rate
            if rate > 0 and row["cv"] and float(row["cv"]) > 0:
                cvs[client].append(float(row["cv"]))
    mean_rate = np.array([np.mean(v) for v in rates.values()])
    active = mean_rate[mean_rate > 0]
    log_rate = np.log(active)
    shares = np.sort(active)[::-1] / active.sum()
    client_cv = np.array([np.median(v) for v in cvs.values() if v])
    # Share of a client's 10-minute windows with any traffic: on/off activity.
    active_share = np.array([np.mean(np.array(v) > 0) for v in rates.values()])
    starts = np.array(sorted(by_window))
    totals = np.array([by_window[s] for s in starts])
    hours = (starts // 3600) % 24
    hourly = np.array([totals[hours == h].mean() for h in range(24)])
    days = starts // 86400
    daily = np.array([totals[days == d].mean() for d in np.unique(days)])
    # Clients with a strong daily cycle (peak hour >= 3 times the quietest): their mean
    # normalised profile is the "interactive" (human-driven) daily shape.
    diurnal = [
        h / h.mean()
        for h in client_hourly.values()
        if h.sum() > 0 and h.max() >= 3 * max(h.min(), 1e-9) and (h > 0).sum() >= 20
    ]
    interactive = np.mean(diurnal, axis=0)
    week = np.array([daily[d::7].mean() for d in range(7)])
    return {
        "source": "ServeGen m-large (github.com/alibaba/ServeGen, data/language/m-large), "
        "Apache-2.0",
        "clients": len(rates),
        "client_rate_lognormal": {
            "mu": round(float(log_rate.mean()), 4),
            "sigma": round(float(log_rate.std()), 4),
        },
        "top1_share": round(float(shares[0]), 4),
        "top10_share": round(float(shares[:10].sum()), 4),
        "client_cv_quantiles": _q(client_cv),
        "client_active_window_share_quantiles": _q(active_share),
        "hour_of_day_profile": [round(float(x), 4) for x in hourly / hourly.mean()],
        "day_profile": [round(float(x), 4) for x in daily / daily.mean()],
        "weekday_profile": [round(float(x), 4) for x in week / week.mean()],
        "interactive_clients": len(diurnal),
        "interactive_hour_of_day_profile": [
            round(float(x), 4) for x in interactive / interactive.mean()
        ],
    }


def _servegen_tokens(path: Path) -> dict[str, Any]:
    per_kind: dict[str, list[list[float]]] = defaultdict(list)
    with path.open() as fh:
        for row in csv.DictReader(fh):
            per_kind[row["kind"]].append(
                [float(row[k]) for k in ("p05", "p25", "p50", "p75", "p95", "p99")]
            )
    return {
        "source": "ServeGen m-large token quantiles, Apache-2.0",
        "quantile_levels": [0.05, 0.25, 0.5, 0.75, 0.95, 0.99],
        # One row per client: the simulator gives each account one client's profile.
        "input_profiles": per_kind["input_tokens"],
        "output_profiles": per_kind["output_tokens"],
    }


def _azure(path: Path) -> dict[str, Any]:
    ts: list[float] = []
    ctx: list[float] = []
    gen: list[float] = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            stamp = row["TIMESTAMP"]
            hh, mm, ss = stamp.split(" ")[1].split(":")
            ts.append(int(hh) * 3600 + int(mm) * 60 + float(ss))
            ctx.append(float(row["ContextTokens"]))
            gen.append(float(row["GeneratedTokens"]))
    gaps = np.diff(np.sort(np.array(ts)))
    return {
        "requests": len(ts),
        "interarrival_cv": round(float(gaps.std() / gaps.mean()), 3),
        "input_quantiles": _q(np.array(ctx)),
        "output_quantiles": _q(np.array(gen)),
    }


def derive_params(data_dir: Path) -> dict[str, Any]:
    """All derived parameters from ``data_dir`` (the shared ``data/`` folder)."""
    sg = data_dir / "servegen"
    az = data_dir / "azure-llm-2023"
    return {
        "servegen": _servegen(sg / "m_large_trace.csv.gz"),
        "servegen_tokens": _servegen_tokens(sg / "m_large_tokens.csv"),
        "azure": {
            "source": "Azure LLM inference trace 2023 (github.com/Azure/AzurePublicDataset), "
            "CC-BY-4.0",
            "quantile_levels": list(_QS),
            "code": _azure(az / "AzureLLMInferenceTrace_code.csv"),
            "conversation": _azure(az / "AzureLLMInferenceTrace_conv.csv"),
        },
    }


def write_params(data_dir: Path, out: Path = PARAMS_PATH) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(derive_params(data_dir), option=orjson.OPT_INDENT_2) + b"\n")
    return out


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    """The shipped derived parameters."""
    params: dict[str, Any] = orjson.loads(path.read_bytes())
    return params


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(write_params(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")))
