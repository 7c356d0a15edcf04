from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli


@pytest.mark.parametrize("env", [{}, {"HYDRAWATCH_CONSOLE_HOST": "0.0.0.0"}])
def test_console_refuses_a_public_address_without_a_token(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HYDRAWATCH_CONSOLE_TOKEN", raising=False)
    args = ["console", "--port", "1"] + ([] if env else ["--host", "0.0.0.0"])
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2
    assert "without a token" in result.output


def test_console_help_documents_the_verdict_options() -> None:
    result = CliRunner().invoke(cli, ["console", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--allow-verdicts" in result.output and "read-only" in result.output.lower()
    assert "--no-verdicts" in result.output


def test_console_refuses_writing_verdicts_it_does_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYDRAWATCH_CONSOLE_TOKEN", raising=False)
    result = CliRunner().invoke(
        cli, ["console", "--port", "1", "--allow-verdicts", "--no-verdicts"]
    )
    assert result.exit_code == 2
    assert "--allow-verdicts needs the verdicts topic" in result.output
