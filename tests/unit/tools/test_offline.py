from __future__ import annotations

import base64
import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson

from app.core.events.schema import schema_documents
from app.core.settings import DetectionSettings
from app.tools.offline import detect_file
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


def test_dlq_rows_find_the_line_without_copying_unparsed_bytes(tmp_path: Path) -> None:
    """A non-UTF-8 line: no U+FFFD, the line's sha256 and length, never its bytes."""
    bad = b'{"event_id": "x", "prompt": "secret \xff\xfe text"}'
    src = tmp_path / "in.jsonl"
    src.write_bytes(orjson.dumps(event_dict(event_id="1")) + b"\n" + bad + b"\n")
    dlq = tmp_path / "dlq.jsonl"
    with dlq.open("wb") as dfh:
        s = detect_file(str(src), settings=DetectionSettings(), on_alert=lambda a: None, dlq=dfh)
    assert (s.events, s.invalid) == (1, 1)
    data = dlq.read_bytes()
    assert "\ufffd".encode() not in data and b"secret" not in data
    (row,) = [orjson.loads(x) for x in data.splitlines()]
    assert (row["line"], row["reason"]) == (2, "invalid_utf8")
    assert row["sha256"] == hashlib.sha256(bad).hexdigest() and row["length"] == len(bad)
    value = base64.b64decode(row["raw_b64"])
    assert b"secret" not in value and orjson.loads(value)["sha256"] == row["sha256"]


def test_detect_reports_progress_to_the_end_of_the_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wb") as fh:
        for i in range(25):
            fh.write(orjson.dumps(event_dict(event_id=str(i), ts_ms=1_767_225_600_000 + i)))
            fh.write(b"\n")
    seen: list[tuple[int, int, int | None]] = []
    detect_file(
        str(src),
        settings=DetectionSettings(),
        on_alert=lambda a: None,
        on_progress=lambda s, f: seen.append((s.events, f.position(), f.size)),
        progress_every_lines=10,
    )
    size = src.stat().st_size
    assert [e for e, _, _ in seen] == [10, 20, 25]
    assert seen[-1][1:] == (size, size)


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
