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
