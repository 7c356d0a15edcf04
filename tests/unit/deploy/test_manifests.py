"""deploy/: every manifest parses, and the pieces agree with each other and with the code."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.main import get_command

from app.cli import cli
from app.runtime.config import DetectionSettings, Settings
from app.runtime.metrics import Metrics
from benchmarks.sizing import README as SIZING_README
from benchmarks.sizing import latest_bench, replace_block, sizing_block
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "hydrawatch.json"
STAGES = ("account", "pivot", "campaign")


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _dockerfile_json(instruction: str) -> list[str]:
    (line,) = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith(instruction)]
    value = json.loads(line.removeprefix(instruction).strip())
    assert isinstance(value, list)
    return value


def _parse_cli(argv: list[str]) -> str:
    """Parse ``hydrawatch`` arguments as the CLI would (nothing runs); the subcommand name.

    Raises the CLI's usage error for anything it would reject.
    """
    group = get_command(cli)
    ctx = group.make_context("hydrawatch", list(argv))
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, sub, args = group.resolve_command(ctx, rest)  # type: ignore[attr-defined]
    assert sub is not None and name is not None
    sub.make_context(name, args, parent=ctx)
    return name


def _hydrawatch_services() -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in _compose()["services"].items()
        if svc.get("image") == "hydrawatch:local"
    }


def _argv(svc: dict[str, Any], *, run_args: list[str] | None = None) -> list[str]:
    """What a container of the service executes: entrypoint + command (or run's args)."""
    entrypoint = svc.get("entrypoint", _dockerfile_json("ENTRYPOINT"))
    command = run_args if run_args is not None else svc.get("command", _dockerfile_json("CMD"))
    return [*entrypoint, *command]


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
    known = {f"HYDRAWATCH_{name.upper()}" for name in Settings.model_fields}
    for name, svc in _hydrawatch_services().items():
        assert set(svc.get("environment", {})) <= known, name


def test_every_compose_command_is_one_the_cli_accepts() -> None:
    services = _hydrawatch_services()
    assert {"worker", "simulator", *STAGES} <= set(services)
    for name, svc in services.items():
        argv = _argv(svc)
        assert argv[0] == "hydrawatch", name
        _parse_cli(argv[1:])


def test_deploy_readme_compose_run_commands_work_as_written() -> None:
    """``docker compose run --rm SERVICE ARGS``: ARGS replace the service's command."""
    runs = re.findall(
        r"docker compose run --rm (\S+) ([^`\n]+)", (DEPLOY / "README.md").read_text()
    )
    assert runs, "the README shows how to follow the alerts"
    services = _compose()["services"]
    for service, args in runs:
        argv = _argv(services[service], run_args=shlex.split(args))
        assert argv[0] == "hydrawatch"
        assert _parse_cli(argv[1:]) == shlex.split(args)[0]


def test_compose_creates_every_topic_the_stages_use_with_their_partitions() -> None:
    script = _compose()["services"]["topics"]["command"][0]
    created = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"--topic (\S+) --partitions (\d+)", script)
    }
    env = _compose()["services"]["worker"]["environment"]
    s = Settings(app_id=env["HYDRAWATCH_APP_ID"])
    p = int(env["HYDRAWATCH_TOPIC_PARTITIONS"])
    assert created == {
        env["HYDRAWATCH_INPUT_TOPIC"]: p,
        env["HYDRAWATCH_ALERT_TOPIC"]: p,
        env["HYDRAWATCH_DLQ_TOPIC"]: p,
        s.observations_topic: DetectionSettings().pivot_partitions,
        s.links_topic: 1,
        s.checkpoint_topic: 1,
        env["HYDRAWATCH_VERDICT_TOPIC"]: 1,
        s.verdict_dlq_topic: 1,
    }
    assert f"--topic {s.verdict_topic} --partitions 1 --replication-factor 1 --config " \
        "cleanup.policy=compact" in script  # fmt: skip


def _stage_of(argv: list[str]) -> tuple[str, ...]:
    if "--stages" not in argv:
        return STAGES
    return tuple(argv[argv.index("--stages") + 1].split(","))


def test_compose_runs_the_stages_as_separately_scalable_services() -> None:
    services = _hydrawatch_services()
    assert _stage_of(_argv(services["worker"])) == STAGES  # the one-worker default
    assert services["worker"]["profiles"] == ["single"]
    for stage in STAGES:
        svc = services[stage]
        assert _stage_of(_argv(svc)) == (stage,)
        assert svc["profiles"] == ["stages"]
        assert "container_name" not in svc  # would forbid --scale
    assert services["account"]["deploy"]["replicas"] >= 2
    assert services["campaign"]["deploy"]["replicas"] == 1
    assert "COMPOSE_PROFILES=single" in (DEPLOY / "compose" / ".env").read_text()
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    (sd,) = job["dns_sd_configs"]
    assert set(sd["names"]) == {"worker", *STAGES}


def test_k8s_runs_each_stage_as_its_own_deployment() -> None:
    deployments = list(yaml.safe_load_all((DEPLOY / "k8s" / "deployment.yaml").read_text()))
    pdbs = list(yaml.safe_load_all((DEPLOY / "k8s" / "pdb.yaml").read_text()))
    service = yaml.safe_load((DEPLOY / "k8s" / "service.yaml").read_text())
    by_stage: dict[tuple[str, ...], dict[str, Any]] = {}
    for d in deployments:
        (container,) = d["spec"]["template"]["spec"]["containers"]
        _parse_cli(container["args"])
        by_stage[_stage_of(container["args"])] = d
    assert set(by_stage) == {(s,) for s in STAGES}
    selectors = []
    for (stage,), d in by_stage.items():
        sel = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert sel.items() <= labels.items()
        assert service["spec"]["selector"].items() <= labels.items(), "metrics Service"
        assert any(p["spec"]["selector"]["matchLabels"] == sel for p in pdbs), stage
        selectors.append(tuple(sorted(sel.items())))
    assert len(set(selectors)) == 3, "each Deployment must select only its own pods"
    assert by_stage[("campaign",)]["spec"]["replicas"] == 1


def test_every_k8s_secret_mounted_is_documented() -> None:
    readme = (DEPLOY / "README.md").read_text()
    text = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    names = set(re.findall(r"secretName: (\S+?)\}", text)) | set(
        re.findall(r"secretRef: \{name: (\S+?)\}", text)
    )
    assert names == {"kafka-cluster-ca", "hydrawatch-kafka"}
    for name in names:
        assert f"kubectl create secret generic {name}" in readme, name
    assert "<cluster>-cluster-ca-cert" in readme  # where Strimzi keeps the CA


def test_image_installs_the_tested_versions() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY deploy/docker/constraints.txt ./constraints.txt" in text
    (install,) = [ln for ln in text.splitlines() if "pip install" in ln]
    assert "--constraint constraints.txt" in install
    pins: dict[str, str] = {}
    for line in (DEPLOY / "docker" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not a pin: {line}"
            pins[canonicalize_name(name)] = version
    assert "hydrawatch" not in pins
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} breaks {spec}"


def test_sizing_figures_are_generated_from_the_newest_bench() -> None:
    text = SIZING_README.read_text()
    newest = latest_bench()
    assert replace_block(text, sizing_block(newest)) == text, "run `make sizing`"
    assert newest.name in text
    # no figures of their own elsewhere: the k8s manifests point at the README
    k8s = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    assert not re.search(r"\d\s*(k\s*)?(ev|events)/s|RSS [\d.,]+", k8s)
    assert 'deploy/README.md "Sizing"' in k8s


def test_dashboard_imports_into_any_grafana() -> None:
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name in ("job", "instance"):
        v = variables[name]
        assert v["type"] == "query" and v["datasource"]["uid"] == "${DS_PROMETHEUS}", name
        assert v["includeAll"] and v["multi"], name
    assert "$job" in variables["instance"]["query"]["query"]
    for panel in dash["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            # every series the query reads is narrowed to the chosen job and instances
            for m in re.finditer(r"\b(hydrawatch_[a-z0-9_]+|up)\b(\{[^}]*\})?", t["expr"]):
                assert m.group(2) and 'job=~"$job"' in m.group(2), (panel["title"], m.group(0))
                assert 'instance=~"$instance"' in m.group(2), (panel["title"], m.group(0))
    assert '"uid": "prometheus"' not in DASHBOARD.read_text()


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


@pytest.mark.parametrize(
    "rule",
    yaml.safe_load((DEPLOY / "prometheus" / "rules" / "hydrawatch-alerts.yml").read_text())[
        "groups"
    ][0]["rules"],
    ids=lambda r: r["alert"],
)
def test_every_prometheus_alert_links_its_runbook(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    m = re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/blob/main/(docs/runbooks/\w+\.md)", url)
    assert m, url
    page = ROOT / m.group(1)
    assert page.exists(), f"{rule['alert']}: missing {page}"
    assert page.name == f"{rule['alert']}.md"


def test_sizing_takes_the_newest_complete_bench_result(tmp_path: Path) -> None:
    full = {"two_workers": {}, "latency_at_half_load": {}}
    (tmp_path / "bench-20260101T000000.json").write_text(json.dumps(full))
    (tmp_path / "bench-20260102T000000.json").write_text(json.dumps({"hydrawatch": {}}))
    assert latest_bench(tmp_path).name == "bench-20260101T000000.json"
    (tmp_path / "bench-20260101T000000.json").unlink()
    with pytest.raises(FileNotFoundError, match="complete"):
        latest_bench(tmp_path)
