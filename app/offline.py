"""Run the detection core over a JSONL file in event-time order (``hydrawatch detect``).

Each line is one RequestEvent object or a JSON array of them. Invalid lines (or
array elements) are counted, optionally written with their reasons to a dead-letter
file, and skipped; they are never fatal.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import orjson

from app.config import DetectionSettings
from app.engine import Engine, wall_clock_ms
from app.events import AlertEvent, RequestEvent, decode_message
from app.gcutil import gc_paused

__all__ = ["DetectSummary", "detect_file", "iter_lines", "open_input", "open_output"]

_CHUNK = 5_000


@dataclass(slots=True)
class DetectSummary:
    lines: int = 0
    events: int = 0
    invalid: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    late: int = 0
    alerts: int = 0
    windows_closed: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """Binary reader for a path (``.gz`` decompressed) or ``-`` for standard input."""
    if path == "-":
        yield sys.stdin.buffer
        return
    p = Path(path)
    if p.suffix == ".gz":
        with gzip.open(p, "rb") as fh:
            yield cast(IO[bytes], fh)
    else:
        with p.open("rb") as fh:
            yield fh


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """Binary writer for a path (``.gz`` compressed) or ``-`` for standard output."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".gz":
        with gzip.open(p, "wb", compresslevel=5) as fh:
            yield cast(IO[bytes], fh)
    else:
        with p.open("wb") as fh:
            yield fh


def iter_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped bytes) for non-blank lines."""
    for n, line in enumerate(fh, start=1):
        line = line.strip()
        if line:
            yield n, line


def detect_file(
    input_path: str,
    *,
    settings: DetectionSettings,
    on_alert: Callable[[AlertEvent], None],
    dlq: IO[bytes] | None = None,
    clock: Callable[[], int] = wall_clock_ms,
) -> DetectSummary:
    """Decode ``input_path``, sort by event time, run the engine, call ``on_alert``."""
    with gc_paused():
        return _detect(input_path, settings=settings, on_alert=on_alert, dlq=dlq, clock=clock)


def _detect(
    input_path: str,
    *,
    settings: DetectionSettings,
    on_alert: Callable[[AlertEvent], None],
    dlq: IO[bytes] | None,
    clock: Callable[[], int],
) -> DetectSummary:
    summary = DetectSummary()
    t0 = time.perf_counter()
    events: list[RequestEvent] = []
    with open_input(input_path) as fh:
        for lineno, line in iter_lines(fh):
            summary.lines += 1
            decoded = decode_message(line)
            events.extend(decoded.events)
            for d in decoded.dead:
                summary.invalid += 1
                summary.invalid_by_reason[d.reason] += 1
                if dlq is not None:
                    dlq.write(
                        orjson.dumps(
                            {
                                "line": lineno,
                                "index": d.index,
                                "reason": d.reason,
                                "detail": d.detail,
                                "raw": d.raw.decode("utf-8", "replace"),
                            }
                        )
                        + b"\n"
                    )
    events.sort(key=lambda e: e.ts_ms)
    summary.events = len(events)
    engine = Engine(settings, clock=clock)
    for i in range(0, len(events), _CHUNK):
        result = engine.process(events[i : i + _CHUNK])
        summary.late += result.late
        summary.windows_closed += result.windows_closed
        for alert in result.alerts:
            summary.alerts += 1
            on_alert(alert)
    result = engine.flush()
    summary.windows_closed += result.windows_closed
    for alert in result.alerts:
        summary.alerts += 1
        on_alert(alert)
    summary.seconds = time.perf_counter() - t0
    return summary
