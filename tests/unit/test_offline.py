from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson

from app.config import DetectionSettings
from app.events.schema import schema_documents
from app.offline import detect_file
from tests.conftest import EXAMPLES, event_dict


def test_detect_on_example_writes_schema_valid_alerts(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "app", "detect", "--input", str(EXAMPLES), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert alerts, proc.stderr
    validator = jsonschema.Draft202012Validator(schema_documents()["alert_event.v1.json"])
    for a in alerts:
        validator.validate(a)
    assert any(a["entity_id"].startswith("acct-x") for a in alerts)


def test_invalid_lines_reported_and_skipped(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wb") as fh:
        fh.write(orjson.dumps(event_dict(event_id="1")) + b"\n")
        fh.write(b"{broken\n\n")
        fh.write(orjson.dumps([event_dict(event_id="2"), {"x": 1}]) + b"\n")
    dlq = tmp_path / "dlq.jsonl"
    with dlq.open("wb") as dfh:
        s = detect_file(str(src), settings=DetectionSettings(), on_alert=lambda a: None, dlq=dfh)
    assert (s.lines, s.events, s.invalid) == (3, 2, 2)
    rows = [orjson.loads(x) for x in dlq.read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in rows] == [(2, "invalid_json"), (4, "invalid_event")]


def test_detect_reads_stdin() -> None:
    data = EXAMPLES.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "app", "detect", "--input", "-"],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.count(b"\n") >= 1


def test_detect_missing_file_is_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app", "detect", "--input", "/nope.jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "not found" in proc.stderr
