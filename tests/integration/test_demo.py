"""``hydrawatch demo`` prints live alerts and a summary, and leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from app.tools.broker import BrokerHandle

pytestmark = pytest.mark.integration


def _gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie still answers kill(0); it is gone once its state says so.
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(") ")[-1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_demo_runs_shows_alerts_and_cleans_up(broker: BrokerHandle) -> None:
    args = [sys.executable, "-m", "app", "demo", "--duration", "25"]
    if broker.kind == "external":
        args += ["--broker", broker.url]
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "hydrawatch demo summary" in out
    # Not a terminal: one line per alert, no redrawn table.
    assert "latest alerts" not in out
    assert re.search(r"^\d\d:\d\d \w+ +\w+ \w+ account:acct-x\d+ ", proc.stdout, re.M), out
    m = re.search(r"abusive accounts alerted\s*│\s*(\d+) of (\d+)", out)
    assert m and int(m.group(1)) >= 1, out
    benign = re.search(r"benign accounts alerted\s*│\s*(\d+)", out)
    assert benign and int(benign.group(1)) == 0, out
    assert re.search(r"dead letters\s*│\s*3 of 3 malformed", out), out
    assert "all demo processes stopped" in out
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)|worker pid (\d+)", out) for p in p if p]
    assert pids, out
    for pid in pids:
        assert _gone(pid), f"process {pid} still running after the demo"
