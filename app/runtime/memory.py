"""In-memory backends of the driver's ports: a runtime without a broker (as httpx's
``MockTransport`` is a client without a network).

- :class:`MemorySink` records every message per topic role and partition; it acks at
  once, or holds every acknowledgement until :meth:`~MemorySink.release` (output that
  is sent but not yet published).
- :class:`MemorySnapshotStore` keeps snapshots in a list; ``fail_writes`` makes the next
  writes raise, as an unreachable checkpoint topic does.
- :class:`MemoryLog` is a topic's partitions as lists: appended to by a test, read back
  by the driver from any offset, with a high-water mark per partition.
- :class:`ManualClock` moves only when told to.
- :class:`MemoryVerdicts` is the verdicts topic as a list: records appended by a test
  reach the driver at its next batch.

>>> import asyncio
>>> sink = MemorySink()
>>> ack = asyncio.run(sink.send("links", value=b"x", partition=0))
>>> [(m.role, m.partition, m.value) for m in sink.sent]
[('links', 0, b'x')]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass, field

from app.runtime.checkpoint import ChunkedCompressor, Snapshot, decompress_state
from app.runtime.ports import Headers, Message, TopicRole
from app.runtime.readback import Record

__all__ = [
    "ManualClock",
    "MemoryLog",
    "MemorySink",
    "MemorySnapshotStore",
    "MemoryVerdicts",
    "Sent",
]


@dataclass(frozen=True, slots=True)
class Sent:
    """One message a :class:`MemorySink` received."""

    role: TopicRole
    value: bytes
    key: bytes | None
    partition: int | None
    headers: Headers | None


class MemorySink:
    """A :class:`~app.runtime.ports.Sink` that records; acks at once unless held."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._held: list[asyncio.Future[object]] | None = None

    async def send(
        self,
        role: TopicRole,
        *,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[object]:
        self.sent.append(Sent(role, value, key, partition, headers))
        ack: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self._held is None:
            ack.set_result(len(self.sent) - 1)
        else:
            self._held.append(ack)
        return ack

    def hold(self) -> None:
        """From now on, acknowledgements wait for :meth:`release`."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Acknowledge everything held, and ack at once again."""
        held, self._held = self._held or [], None
        for ack in held:
            ack.set_result(None)

    @property
    def unacked(self) -> int:
        return len(self._held or [])

    def to(self, role: TopicRole) -> list[Sent]:
        """The messages sent to ``role``, in order."""
        return [m for m in self.sent if m.role == role]

    def by_partition(self, role: TopicRole) -> dict[int | None, list[Sent]]:
        out: dict[int | None, list[Sent]] = {}
        for m in self.to(role):
            out.setdefault(m.partition, []).append(m)
        return out


class MemorySnapshotStore:
    """A :class:`~app.runtime.ports.SnapshotStore` in a list (newest last)."""

    def __init__(self, *, chunk_bytes: int = 64 * 1024) -> None:
        self.chunk_bytes = chunk_bytes
        self.snapshots: list[Snapshot] = []
        #: the next ``fail_writes`` writes raise :class:`OSError`
        self.fail_writes = 0
        self.write_attempts = 0
        self.closed = False

    def compressor(self) -> ChunkedCompressor:
        return ChunkedCompressor(self.chunk_bytes)

    def write(self, offsets: Mapping[int, int], state: ChunkedCompressor) -> tuple[str, int]:
        self.write_attempts += 1
        if self.fail_writes > 0:
            self.fail_writes -= 1
            raise OSError("snapshot store unavailable")
        blob = b"".join(state.finish())
        sid = f"memory-{len(self.snapshots)}"
        self.snapshots.append(
            Snapshot(
                snapshot_id=sid,
                owner="memory",
                offsets=dict(offsets),
                blob=blob,
                position=len(self.snapshots),
            )
        )
        return sid, len(blob)

    def latest(self) -> dict[int, Snapshot]:
        newest: dict[int, Snapshot] = {}
        for snap in self.snapshots:  # later wins
            for p in snap.offsets:
                newest[p] = snap
        return newest

    def state_of(self, snapshot: Snapshot) -> bytes:
        return decompress_state(snapshot.blob)

    def close(self) -> None:
        self.closed = True


@dataclass(slots=True)
class MemoryLog:
    """Topics as lists of ``(key, value)`` per partition; offsets are list positions."""

    topics: dict[str, dict[int, list[tuple[bytes | None, bytes | None]]]] = field(
        default_factory=dict
    )

    def append(self, topic: str, partition: int, value: bytes, *, key: bytes | None = None) -> int:
        """Add a message; its offset."""
        log = self.topics.setdefault(topic, {}).setdefault(partition, [])
        log.append((key, value))
        return len(log) - 1

    def messages(self, topic: str, partition: int, *, start: int = 0) -> list[Message]:
        """The partition's messages from ``start``, as a consumer delivers them."""
        log = self.topics.get(topic, {}).get(partition, [])
        return [(k, v, partition, o) for o, (k, v) in enumerate(log) if o >= start]

    def highwater(self, topic: str, partition: int) -> int:
        return len(self.topics.get(topic, {}).get(partition, []))

    def read_back(
        self, topic: str, starts: Mapping[int, int]
    ) -> Iterator[tuple[int, list[Record]]]:
        """A :data:`~app.runtime.ports.ReadBack`: each partition from its start to its end."""
        for p, start in sorted(starts.items()):
            records = [(k, v, o) for k, v, _, o in self.messages(topic, p, start=start)]
            if records:
                yield p, records


@dataclass(slots=True)
class ManualClock:
    """A :class:`~app.runtime.ports.Clock` that moves only when told to."""

    monotonic_s: float = 0.0
    epoch_ms: int = 1_767_312_000_000

    def monotonic(self) -> float:
        return self.monotonic_s

    def wall_ms(self) -> int:
        return self.epoch_ms

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self.monotonic_s += seconds
        self.epoch_ms += round(seconds * 1000)


class MemoryVerdicts:
    """A :class:`~app.runtime.ports.VerdictSource` over a list of records."""

    def __init__(self, *, caught_up: bool = True) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []
        self._read = 0
        self.caught_up = caught_up
        self.waited = 0

    def append(self, key: bytes | None, value: bytes | None) -> None:
        self.records.append((key, value))

    def drain(self) -> list[tuple[bytes | None, bytes | None]]:
        out = self.records[self._read :]
        self._read = len(self.records)
        return out

    def wait_caught_up(self, timeout_s: float) -> bool:
        self.waited += 1
        return self.caught_up
