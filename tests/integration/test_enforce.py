"""The downstream contract end to end: worker → alert topic → ``hydrawatch enforce`` and
``hydrawatch tail-alerts`` as subprocesses, on a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from app.tools.broker import BrokerHandle, free_port
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.basic import ABUSIVE_PREFIX, generate_basic
from tests.conftest import PARTITIONS, Topics
from tests.integration.helpers import produce_batches
from tests.integration.test_worker import TRAFFIC

pytestmark = pytest.mark.integration


def _cli(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_enforce_builds_the_throttle_list_and_tail_filters(
    broker: BrokerHandle,
    topics: Topics,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    worker = start_worker()
    worker.wait_assigned(min_partitions=PARTITIONS)
    events = generate_basic(TRAFFIC)
    sent = produce_batches(broker.bootstrap, topics.input, events, partitions=PARTITIONS)
    deadline = time.monotonic() + 60
    while metric_value(worker.metrics(), "hydrawatch_events_consumed_total") < sent:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.3)
    time.sleep(1)
    emitted = metric_value(worker.metrics(), "hydrawatch_alerts_emitted_total")
    assert emitted >= 1

    env = {
        "HYDRAWATCH_BROKER": broker.url,
        "HYDRAWATCH_ALERT_TOPIC": topics.alerts,
        "HYDRAWATCH_SESSION_TIMEOUT_S": "4",  # the embedded broker holds joins for half of it
        "HYDRAWATCH_HEARTBEAT_INTERVAL_S": "1",
    }
    out = tmp_path / "active.json"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "enforce",
            "--db",
            str(tmp_path / "e.db"),
            "--json-out",
            str(out),
            "--http-port",
            str(port),
            "--max-seconds",
            "12",
        ],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    served = None
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline and served is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/active", timeout=2) as r:
                doc = json.loads(r.read())
            if doc["entries"]:
                served = doc
        except OSError:
            pass
        time.sleep(0.5)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert served is not None, stderr
    listed = json.loads(out.read_text())["entries"]
    abusive = {e["account_id"] for e in events if e["account_id"].startswith(ABUSIVE_PREFIX)}
    flagged = {e["entity_id"] for e in listed if e["entity_type"] == "account"}
    assert flagged and flagged <= abusive, listed
    assert all(e["action"] in ("verify", "throttle", "block") for e in listed)
    assert f"alerts {int(emitted)}" in stderr

    # a second run of the same group resumes after its commit: nothing new to apply
    again = _cli("enforce", "--db", str(tmp_path / "e.db"), "--max-seconds", "5", env=env)
    assert again.returncode == 0 and "alerts 0," in again.stderr, again.stderr

    tail = _cli(
        "tail-alerts",
        "--from-beginning",
        "--max-seconds",
        "5",
        "--json",
        "--severity",
        "medium",
        "--entity-type",
        "account",
        env=env,
    )
    assert tail.returncode == 0, tail.stderr
    shown = [json.loads(line) for line in tail.stdout.splitlines() if line.strip()]
    assert shown and all(a["entity_type"] == "account" for a in shown)
    assert all(a["severity"] in ("medium", "high", "critical") for a in shown)
