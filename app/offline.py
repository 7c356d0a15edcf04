"""``hydrawatch detect``: the keyed stages in-process over a JSONL file, streamed.

Each line is one RequestEvent object or a JSON array of them (one input message).
Lines are decoded with the worker's limits, split over ``partitions`` account
partitions as Kafka's default partitioner places a key, and passed through a bounded
reorder buffer on event time (``reorder_ms``, the grace period by default) so a file
that is nearly in order is applied in order, with memory bounded by that window and by
the stages' state — never by the file. Invalid lines (or array elements) are counted,
optionally written with their reasons to a dead-letter file, and skipped.
"""

from __future__ import annotations

import base64
import gzip
import heapq
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
from app.events import AlertEvent, RequestEvent
from app.gcutil import gc_paused
from app.stages.ingest import decode_values
from app.stages.local import LocalTopology
from app.stages.partitioner import account_partitioner

__all__ = ["DetectSummary", "detect_file", "iter_lines", "open_input", "open_output"]

_BATCH_EVENTS = 5_000


@dataclass(slots=True)
class DetectSummary:
    lines: int = 0
    events: int = 0
    invalid: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    late: int = 0
    duplicates: int = 0
    #: observations the account stages sent to the pivot stages (one per event and pivot)
    observations: int = 0
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
    partitions: int = 4,
    reorder_ms: int | None = None,
    max_future_skew_ms: int | None = None,
    clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> DetectSummary:
    """Stream ``input_path`` through the stages; call ``on_alert`` for every alert."""
    with gc_paused():
        summary = DetectSummary()
        t0 = time.perf_counter()
        topo = LocalTopology(settings, account_partitions=partitions, clock=clock)
        part = account_partitioner(partitions)
        window = settings.grace_ms if reorder_ms is None else reorder_ms
        heap: list[tuple[int, int, RequestEvent]] = []
        newest: int | None = None
        seq = 0
        ready: dict[int, list[RequestEvent]] = {}
        n_ready = 0

        def emit(alerts: list[AlertEvent]) -> None:
            for a in alerts:
                summary.alerts += 1
                on_alert(a)

        def drain(until: int | None) -> None:
            nonlocal n_ready
            while heap and (until is None or heap[0][0] <= until):
                e = heapq.heappop(heap)[2]
                ready.setdefault(part(e.account_id), []).append(e)
                n_ready += 1
                if n_ready >= _BATCH_EVENTS:
                    flush_ready()

        def flush_ready() -> None:
            nonlocal n_ready
            if ready:
                emit(topo.process(sorted(ready.items())))
                ready.clear()
            n_ready = 0

        with open_input(input_path) as fh:
            for lineno, line in iter_lines(fh):
                summary.lines += 1
                ing = decode_values(
                    [line],
                    max_message_bytes=8 * 1024 * 1024,
                    max_batch_events=50_000,
                    max_future_skew_ms=max_future_skew_ms,
                    now_ms=clock(),
                )
                for d in ing.dead:
                    summary.invalid += 1
                    summary.invalid_by_reason[d.letter.reason] += 1
                    if dlq is not None:
                        dlq.write(
                            orjson.dumps(
                                {
                                    "line": lineno,
                                    "index": d.letter.index,
                                    "reason": d.letter.reason,
                                    "detail": d.letter.detail,
                                    "raw_b64": base64.b64encode(d.letter.raw).decode(),
                                }
                            )
                            + b"\n"
                        )
                for e in ing.events[0]:
                    summary.events += 1
                    heapq.heappush(heap, (e.ts_ms, seq, e))
                    seq += 1
                    if newest is None or e.ts_ms > newest:
                        newest = e.ts_ms
                if newest is not None:
                    drain(newest - window)
        drain(None)
        flush_ready()
        emit(topo.finish())
        summary.late = topo.counts.late
        summary.duplicates = topo.counts.duplicates
        summary.observations = topo.counts.observations
        summary.windows_closed = topo.counts.windows_closed
        summary.seconds = time.perf_counter() - t0
        return summary
