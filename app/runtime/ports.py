"""The runtime's small interfaces to the world outside the stages.

:class:`~app.runtime.driver.StageDriver` reaches Kafka and the wall clock only through
these, so it runs without a broker: the faust app passes topic-backed implementations
(``app/runtime/app.py``), the unit tests the in-memory ones of :mod:`app.runtime.memory`
(as httpx tests a client over ``MockTransport``).

- :class:`Sink`: where a stage's output goes (internal topics, alerts, dead letters);
  ``send`` returns the acknowledgement to wait for.
- :class:`SnapshotStore`: where snapshots are written and found again (the shape of
  :class:`~app.runtime.checkpoint.CheckpointStore`).
- :data:`ReadBack`: a partition read from an offset to its end, outside any group.
- :class:`Clock`: monotonic time (intervals, the idle rule) and wall time (emitted
  stamps, the future-skew filter).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Literal, Protocol

from app.runtime.checkpoint import ChunkedCompressor, Snapshot
from app.runtime.readback import Record

__all__ = [
    "Clock",
    "Headers",
    "Message",
    "ReadBack",
    "Sink",
    "SnapshotStore",
    "SystemClock",
    "TopicRole",
    "VerdictSource",
]

#: The topics a stage writes to, by what they are for.
TopicRole = Literal["observations", "links", "alerts", "dlq"]
Headers = list[tuple[str, bytes]]
#: One input message: ``(key, value, partition, offset)``.
Message = tuple[bytes | None, bytes | None, int, int]
#: ``(topic, partition → start offset)`` → ``(partition, records)`` chunks up to each
#: partition's end, in offset order per partition.
ReadBack = Callable[[str, Mapping[int, int]], Iterator[tuple[int, list[Record]]]]


class Sink(Protocol):
    """Where a stage's output goes."""

    async def send(
        self,
        role: TopicRole,
        *,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[object]:
        """Queue one message; the awaitable resolves once the broker acknowledged it."""
        ...


class SnapshotStore(Protocol):
    """Where a stage's snapshots are written and found again."""

    def compressor(self) -> ChunkedCompressor:
        """A file-like sink the pickled state is written to."""
        ...

    def write(self, offsets: Mapping[int, int], state: ChunkedCompressor) -> tuple[str, int]:
        """Store one snapshot (blocking); its id and compressed size."""
        ...

    def latest(self) -> Mapping[int, Snapshot]:
        """For each input partition, the newest complete snapshot covering it."""
        ...

    def state_of(self, snapshot: Snapshot) -> bytes:
        """The pickled state a snapshot carries."""
        ...

    def close(self) -> None: ...


class VerdictSource(Protocol):
    """Records of the verdicts topic (:class:`~app.runtime.verdicts.VerdictFollower`)."""

    def drain(self) -> list[tuple[bytes | None, bytes | None]]:
        """The records read since the last call, in topic order."""
        ...

    def wait_caught_up(self, timeout_s: float) -> bool:
        """Block until the first read reached the topic's end (False: timed out)."""
        ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, quiet times)."""
        ...

    def wall_ms(self) -> int:
        """Wall time in epoch milliseconds."""
        ...


class SystemClock:
    """The process's clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000
