"""README.md names what exists: every metric and every command."""

from __future__ import annotations

import re

from typer.main import get_command

from app.cli import cli
from app.runtime.metrics import Metrics
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_metrics_section_lists_every_metric() -> None:
    listed = set(re.findall(r"\bhydrawatch_[a-z0-9_]+", _section("Metrics")))
    for family in Metrics.create().registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name in listed, f"README's metrics list misses {name}"


def test_commands_table_lists_every_command() -> None:
    table = _section("Commands")
    commands = get_command(cli).commands  # type: ignore[attr-defined]
    for name in commands:
        assert f"`hydrawatch {name}" in table, f"README's commands table misses {name}"


def test_readme_says_what_make_test_installs_and_how_to_skip_docker() -> None:
    quick = _section("Quickstart")
    assert "[dev]" in quick and "test extras" not in quick
    assert "as root" in quick and "prometheus" in quick
    assert "HYDRAWATCH_NO_DOCKER" in _section("Tests")
