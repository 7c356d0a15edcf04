"""``hydrawatch`` command line: what a person sees on errors, progress and help."""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from app import __version__
from app.cli import cli
from app.runtime.admin import wait_for_broker
from app.tools.broker import free_port
from tests.conftest import EXAMPLES

runner = CliRunner()


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text


def _one_error_line(stderr: str, *, naming: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert naming in errors[0], stderr
    _no_traceback(stderr)


# ---- help and version ----


def test_version_and_short_help() -> None:
    r = runner.invoke(cli, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"hydrawatch {__version__}"
    r = runner.invoke(cli, ["-h"])
    assert r.exit_code == 0 and "Usage" in r.stdout and "broker" in r.stdout
    r = runner.invoke(cli, ["detect", "-h"])
    assert r.exit_code == 0 and "--input" in r.stdout


# ---- detect on damaged or wrong input ----


def _truncated_gz(tmp_path: Path) -> Path:
    whole = gzip.compress(EXAMPLES.read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: int(len(whole) * 0.9)])
    return path


def test_detect_truncated_gz_keeps_the_alerts_found_and_fails(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    r = runner.invoke(cli, ["detect", "-i", str(_truncated_gz(tmp_path)), "-o", str(out)])
    assert r.exit_code == 1, r.stderr
    _one_error_line(r.stderr, naming="could not be read to its end")
    assert "after line" in r.stderr
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert alerts, "the alerts of the lines read before the truncation must be written"
    assert f"the {len(alerts)} alert(s) found" in r.stderr


def test_detect_on_a_gz_that_is_not_gzip_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "plain.jsonl.gz"
    src.write_bytes(EXAMPLES.read_bytes()[:5000])
    r = runner.invoke(cli, ["detect", "-i", str(src), "-o", str(tmp_path / "a.jsonl")])
    assert r.exit_code == 1
    _one_error_line(r.stderr, naming="Not a gzipped file")


def test_detect_on_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["detect", "-i", str(tmp_path)])
    assert r.exit_code == 2
    _one_error_line(r.stderr, naming="is a directory")


def test_detect_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    src = tmp_path / "part.jsonl"
    src.write_bytes(b"\n".join(EXAMPLES.read_bytes().splitlines()[:5000]) + b"\n")
    out = tmp_path / "alerts.jsonl"
    args = ["detect", "-i", str(src), "-o", str(out)]
    main, sub = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "app", *args],
            stderr=sub,
            timeout=120,
            check=False,
            env={**os.environ, "COLUMNS": "150"},
        )
        os.close(sub)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
    assert proc.returncode == 0
    text = seen.decode("utf-8", "replace")
    assert re.search(r"5,000 events\s+[\d,]+ events/s", text), text
    assert "ETA" in text and "100.0%" in text, text
    piped = runner.invoke(cli, args)
    assert piped.exit_code == 0 and "ETA" not in piped.stderr, piped.stderr


# ---- simulate ----


def test_simulate_warns_when_the_campaign_starts_after_the_span(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl.gz"
    args = ["simulate", "--scenario", "hydra", "--scale", "0.001", "--out", str(out)]
    r = runner.invoke(cli, [*args, "--days", "1"])
    assert r.exit_code == 0, r.stderr
    assert "warning: campaign hydra-1 starts at hour 24" in r.stderr
    assert "0 campaign events" in r.stderr  # the warning says what the summary shows


# ---- no reachable broker: one line naming it, within the timeout ----


def _closed() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["tail-alerts", "--max-seconds", "1"], {}),  # --max-seconds bounds the wait
        (["enforce", "--max-seconds", "30"], {"HYDRAWATCH_CONNECT_TIMEOUT_S": "1"}),
        (["worker"], {"HYDRAWATCH_CONNECT_TIMEOUT_S": "1"}),
        (["simulate", "--days", "0.1", "--scale", "0.001"], {"HYDRAWATCH_CONNECT_TIMEOUT_S": "1"}),
    ],
    ids=["tail-alerts", "enforce", "worker", "simulate"],
)
def test_no_reachable_broker_is_one_line_within_the_timeout(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    bootstrap = _closed()
    if args[0] == "enforce":
        args = [*args, "--db", str(tmp_path / "e.db")]
    t0 = time.monotonic()
    r = runner.invoke(cli, [*args, "--broker", f"kafka://{bootstrap}"], env=env)
    elapsed = time.monotonic() - t0
    assert r.exit_code == 1, r.output
    assert elapsed < 5, f"{elapsed:.1f}s"
    _one_error_line(r.stderr, naming=f"no Kafka broker answered at {bootstrap}")
    assert "TCP connect failed" in r.stderr  # what was tried
    if args[0] == "worker":
        assert f"connecting to broker {bootstrap}" in r.stderr


# ---- hydrawatch broker ----


def test_broker_command_serves_until_terminated() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "broker", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert f"embedded tansu broker on 127.0.0.1:{port}" in first, first
        pid = int(re.search(r"pid (\d+)", first).group(1))  # type: ignore[union-attr]
        wait_for_broker(f"127.0.0.1:{port}", timeout_s=10)
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        try:
            assert {"llm.requests", "hydrawatch.alerts", "llm.requests.dlq"} <= set(
                admin.list_topics()
            )
        finally:
            admin.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "broker stopped" in proc.stderr.read()
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{pid}").exists(), "tansu left running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_detect_refuses_a_malformed_verdicts_file_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "e.jsonl"
    src.write_text("")
    good = (
        '{"subject_kind": "org", "subject": "o", "verdict": "benign", "reason": "r", '
        '"analyst": "a", "issued_ms": 0}'
    )
    verdicts = tmp_path / "v.jsonl"
    verdicts.write_text(good + "\n" + '{"subject_kind": "org"}\n')
    r = runner.invoke(cli, ["detect", "-i", str(src), "--verdicts", str(verdicts)])
    assert r.exit_code == 2 and "line 2" in r.stderr and "invalid verdict" in r.stderr
    verdicts.write_text(good + "\n")
    r = runner.invoke(cli, ["detect", "-i", str(src), "--verdicts", str(verdicts)])
    assert r.exit_code == 0, r.stderr


def test_verdict_command_checks_its_arguments_before_any_broker() -> None:
    r = runner.invoke(cli, ["verdict", "org:acme", "--verdict", "maybe", "--reason", "r"])
    assert r.exit_code == 2 and "benign or --verdict confirmed" in r.stderr
    r = runner.invoke(cli, ["verdict", "org:acme", "--verdict", "benign", "--reason", "r",
                            "--expires-in", "soon"])  # fmt: skip
    assert r.exit_code == 2 and "m, h or d" in r.stderr
