"""deploy/: every manifest parses, and the pieces agree with each other and with the code."""

from __future__ import annotations

import json

import yaml

from app.config import Settings
from app.metrics import Metrics
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def _yaml_docs() -> dict[str, list[object]]:
    return {
        str(p.relative_to(DEPLOY)): list(yaml.safe_load_all(p.read_text()))
        for p in sorted(DEPLOY.rglob("*.y*ml"))
    }


def test_every_yaml_manifest_parses() -> None:
    docs = _yaml_docs()
    assert "compose/docker-compose.yml" in docs and "k8s/deployment.yaml" in docs
    assert all(d for d in docs.values())


def test_k8s_settings_are_real_settings() -> None:
    cm = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    known = {f"HYDRAWATCH_{name.upper()}" for name in Settings.model_fields}
    for key in [*cm["data"], *secret["stringData"]]:
        assert key in known, f"{key} is not a setting"


def test_compose_worker_settings_are_real_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    env = compose["services"]["worker-1"]["environment"]
    known = {f"HYDRAWATCH_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known


def test_dashboard_and_rules_only_name_existing_metrics() -> None:
    import re

    registry = Metrics.create().registry
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    exported = {
        fam.name + suffix for fam in registry.collect() for suffix in suffixes.get(fam.type, [""])
    }
    texts = [(DEPLOY / "grafana" / "dashboards" / "hydrawatch.json").read_text()]
    texts += [p.read_text() for p in (DEPLOY / "prometheus" / "rules").glob("*.yml")]
    used = {n for t in texts for n in re.findall(r"\bhydrawatch_[a-z0-9_]+", t)}
    assert used, "no metrics referenced?"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"
    json.loads(texts[0])


def test_every_prometheus_alert_has_its_runbook() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "hydrawatch-alerts.yml").read_text())
    for rule in rules["groups"][0]["rules"]:
        page = ROOT / rule["annotations"]["runbook"]
        assert page.exists(), f"{rule['alert']}: missing {page}"
        assert page.name == f"{rule['alert']}.md"
