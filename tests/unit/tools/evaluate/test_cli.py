"""``hydrawatch simulate`` then ``hydrawatch evaluate`` on its files, end to end (tiny scale)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson


def run(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_simulate_then_evaluate(tmp_path: Path) -> None:
    events = tmp_path / "single.jsonl.gz"
    p = run(
        "simulate", "--scenario", "single", "--scale", "0.003", "--days", "2", "--out", str(events)
    )
    assert p.returncode == 0, p.stderr
    labels = tmp_path / "single.labels.csv"
    assert events.exists() and labels.exists()
    out = tmp_path / "reports"
    p = run(
        "evaluate",
        "--events",
        str(events),
        "--labels",
        str(labels),
        "--out-dir",
        str(out),
        columns=100,
    )
    assert p.returncode == 0, p.stderr
    # The table follows the terminal's width (COLUMNS here), not a fixed 220 columns.
    assert max(len(line) for line in p.stdout.splitlines()) <= 100, p.stdout
    report = orjson.loads((out / "single.report.json").read_bytes())
    assert set(report["detectors"]) == {
        "hydrawatch",
        "baseline_account_rate",
        "baseline_subnet_accounts",
    }
    with gzip.open(events, "rb") as fh:
        assert report["events"] == sum(1 for _ in fh)  # every simulated event, once
    assert report["detectors"]["hydrawatch"]["campaigns"]["single-1"]["accounts"] == 5
    png = (out / "single.timeline.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "hydrawatch evaluation" in p.stdout


def test_simulate_errors_are_clear(tmp_path: Path) -> None:
    p = run("simulate", "--scenario", "nope", "--out", str(tmp_path / "x.jsonl"))
    assert p.returncode == 2 and "shipped" in p.stderr
    p = run("simulate", "--scenario", "hydra")
    assert p.returncode == 2 and "--out" in p.stderr
