"""The dashboard and the Prometheus rules against a real Prometheus scraping a real worker.

Debian's ``prometheus`` package provides the binary (``make test`` installs it through
``make promtool``). Prometheus scrapes a worker fed with simulated traffic (plus some
invalid and duplicate input) every second and evaluates ``deploy/prometheus/rules``; then
every dashboard panel query must run and return data, every rule must be healthy, every
recorded series must exist and every series an alert expression reads must exist.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.tools.broker import BrokerHandle, free_port
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.basic import generate_basic
from tests.conftest import PARTITIONS, ROOT, Topics
from tests.integration.helpers import produce_batches, produce_raw
from tests.integration.test_worker import TRAFFIC

pytestmark = pytest.mark.integration

DEPLOY = ROOT / "deploy"
RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "hydrawatch.json"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> dict[str, Any]:
        return _get(f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))

    def rules(self) -> list[dict[str, Any]]:
        groups = _get(f"{self.base}/api/v1/rules")["data"]["groups"]
        return [r for g in groups for r in g["rules"]]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], Prometheus]]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary: run `make promtool` (Debian package prometheus)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(metrics_port: int) -> Prometheus:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: {json.dumps([str(r) for r in RULES])}\n"
            "scrape_configs:\n"
            "  - job_name: hydrawatch\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        prom = Prometheus(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _get(f"{prom.base}/api/v1/status/buildinfo")
                return prom
            except OSError:
                time.sleep(0.3)
        raise AssertionError((tmp_path / "prometheus.log").read_text()[-3000:])

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=20)


def _panel_queries() -> list[tuple[str, str]]:
    """Each panel query as Grafana sends it with the variables' defaults: the job the
    scrape config names, every instance."""
    dash = json.loads(DASHBOARD.read_text())
    values = {"$job": "hydrawatch", "$instance": ".+"}
    out = []
    for p in dash["panels"]:
        for t in p["targets"]:
            expr = t["expr"]
            for var, value in values.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, expr
            out.append((p["title"], expr))
    return out


def test_dashboard_and_rules_return_data(
    broker: BrokerHandle,
    topics: Topics,
    start_worker: Callable[..., WorkerProcess],
    prometheus: Callable[[int], Prometheus],
) -> None:
    worker = start_worker(HYDRAWATCH_CHECKPOINT_INTERVAL_S="1")
    worker.wait_assigned(min_partitions=PARTITIONS)
    prom = prometheus(worker.metrics_port)
    events = generate_basic(TRAFFIC)
    sent = produce_batches(broker.bootstrap, topics.input, events, partitions=PARTITIONS)
    produce_raw(broker.bootstrap, topics.input, [b"{not json", orjson.dumps(events[:5])])
    deadline = time.monotonic() + 60
    while metric_value(worker.metrics(), "hydrawatch_events_consumed_total") < sent:
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.3)

    queries = _panel_queries()
    records = [r for r in prom.rules() if r["type"] == "recording"]
    alerts = [r for r in prom.rules() if r["type"] == "alerting"]
    assert len(records) >= 5 and len(alerts) >= 6

    def empty() -> list[str]:
        out = [f"panel {t!r}: {q}" for t, q in queries if not prom.query(q)["data"]["result"]]
        out += [
            f"record {r['name']}" for r in records if not prom.query(r["name"])["data"]["result"]
        ]
        return out

    deadline = time.monotonic() + 60  # a few scrapes and rule evaluations
    missing = empty()
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = empty()
    assert not missing, "no data for:\n" + "\n".join(missing)

    for r in prom.rules():
        assert r["health"] == "ok", (r["name"], r.get("lastError"))
    for r in alerts:
        assert prom.query(r["query"])["status"] == "success", r["name"]
        selectors = re.sub(r"\{[^}]*\}", "", r["query"])  # drop label matchers
        names = set(re.findall(r"\b(hydrawatch[a-z0-9_:]*|up)\b", selectors))
        assert names, r["name"]
        for name in names:
            got = prom.query(f'count({{__name__="{name}"}})')["data"]["result"]
            assert got, f"alert {r['name']} reads {name}, which has no data"
