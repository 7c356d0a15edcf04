"""``hydrawatch detect``: the keyed stages in-process over a JSONL file, streamed.

Each line is one RequestEvent object or a JSON array of them (one input message).
Lines are decoded with the worker's limits, split over ``partitions`` account
partitions as Kafka's default partitioner places a key, and passed through a bounded
reorder buffer on event time (``reorder_ms``, the grace period by default) so a file
that is nearly in order is applied in order, with memory bounded by that window and by
the stages' state — never by the file. Invalid lines (or array elements) are counted,
optionally written with their reasons to a dead-letter file, and skipped.

An input that cannot be read to its end (a truncated or corrupt ``.gz``, an I/O error)
stops the reading, not the run: what was read is still detected on and its alerts
emitted, and :attr:`DetectSummary.input_error` says what went wrong after which line.
"""

from __future__ import annotations

import base64
import gzip
import heapq
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import orjson

from app.core.events import AlertEvent, RequestEvent
from app.core.settings import DetectionSettings
from app.core.stages.ingest import decode_values
from app.core.stages.local import LocalTopology
from app.core.stages.partitioner import account_partitioner
from app.core.verdicts import Verdict, VerdictBook
from app.tools.gcutil import gc_paused

__all__ = [
    "DetectSummary",
    "InputFile",
    "detect_file",
    "iter_lines",
    "open_input",
    "open_input_file",
    "open_output",
]

_BATCH_EVENTS = 5_000


@dataclass(slots=True)
class DetectSummary:
    lines: int = 0
    events: int = 0
    invalid: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    late: int = 0
    duplicates: int = 0
    #: observations the account stages sent to the pivot stages (one per pivot, account
    #: and tick bucket)
    observations: int = 0
    #: 10-minute bucket end → requests the account stages applied there
    observed_requests: dict[int, int] = field(default_factory=dict)
    alerts: int = 0
    windows_closed: int = 0
    seconds: float = 0.0
    #: Why the input stopped before its end (None: read to the end).
    input_error: str | None = None

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


@dataclass(slots=True)
class InputFile:
    """An input being read: the decoded byte stream and how far into the file it is."""

    reader: IO[bytes]
    #: Bytes of the file on disk (compressed for ``.gz``); None for standard input.
    size: int | None
    _raw: IO[bytes] | None = None

    def position(self) -> int:
        """Bytes of the file on disk consumed so far (0 for standard input)."""
        return self._raw.tell() if self._raw is not None else 0


@contextmanager
def open_input_file(path: str) -> Iterator[InputFile]:
    """Like :func:`open_input`, with the file's size and read position (for progress)."""
    if path == "-":
        yield InputFile(sys.stdin.buffer, None)
        return
    p = Path(path)
    with p.open("rb") as raw:
        size = p.stat().st_size
        if p.suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield InputFile(cast(IO[bytes], gz), size, raw)
        else:
            yield InputFile(raw, size, raw)


#: What reading a damaged input raises: gzip's truncation (EOFError), corrupt data
#: (zlib.error), not gzip at all (gzip.BadGzipFile, an OSError) and I/O errors.
_READ_ERRORS = (EOFError, zlib.error, OSError)


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
    on_progress: Callable[[DetectSummary, InputFile], None] | None = None,
    progress_every_lines: int = 2_000,
    verdicts: Iterable[Verdict] = (),
) -> DetectSummary:
    """Stream ``input_path`` through the stages; call ``on_alert`` for every alert.

    ``on_progress`` is called every ``progress_every_lines`` lines and once at the end
    of the input. Dead-letter rows carry the line number, reason, detail, ``sha256`` and
    ``length`` of the line (to find it in the input) and ``raw_b64``: the dead letter's
    value as on the DLQ topic — the line re-encoded with raw-text fields redacted, or,
    where it does not parse (not UTF-8, not JSON), a description of what was omitted:
    bytes that could hold prompt text are never copied. ``verdicts`` are in force as on
    the verdicts topic (each at event time).
    """
    with gc_paused():
        summary = DetectSummary()
        t0 = time.perf_counter()
        topo = LocalTopology(
            settings, account_partitions=partitions, clock=clock, verdicts=VerdictBook(verdicts)
        )
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

        with open_input_file(input_path) as src:
            lineno = 0
            try:
                for lineno, line in iter_lines(src.reader):
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
                                        "sha256": d.letter.digest,
                                        "length": d.letter.length,
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
                    if on_progress is not None and summary.lines % progress_every_lines == 0:
                        on_progress(summary, src)
            except _READ_ERRORS as exc:
                what = str(exc) or type(exc).__name__
                summary.input_error = f"{what} (after line {lineno})"
            if on_progress is not None:
                on_progress(summary, src)
        drain(None)
        flush_ready()
        emit(topo.finish())
        summary.late = topo.counts.late
        summary.duplicates = topo.counts.duplicates
        summary.observations = topo.counts.observations
        summary.observed_requests = dict(topo.counts.observed_requests)
        summary.windows_closed = topo.counts.windows_closed
        summary.seconds = time.perf_counter() - t0
        return summary
