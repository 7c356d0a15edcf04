"""Read one partition back, outside any consumer group, up to its fetch high-water mark.

Used when a worker takes a partition: whatever its state does not include (no snapshot:
everything; a snapshot: the tail after its offset) is read back *before* the agent
resumes, so a partition whose input was fully written before the takeover is applied
without waiting for new traffic. The end is the high-water mark reported in fetch
responses (right on every broker, including the embedded one, whose ListOffsets is
wrong for multi-record batches).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["read_back"]


def read_back(
    bootstrap: str,
    topic: str,
    partition: int,
    *,
    start: int,
    timeout_s: float,
    max_fetch_bytes: int,
    client_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[tuple[bytes | None, bytes | None, int]]:
    """``(key, value, offset)`` of every record from ``start`` to the high-water mark."""
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=max_fetch_bytes,
        fetch_max_bytes=max(max_fetch_bytes, 52_428_800),
        **dict(client_kwargs or {}),
    )
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        deadline = time.monotonic() + timeout_s
        empty_polls = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}[{partition}]: read back to {consumer.position(tp)} "
                    f"in {timeout_s:.0f}s, high-water {consumer.highwater(tp)}"
                )
            got = consumer.poll(timeout_ms=200)
            for records in got.values():
                for r in records:
                    yield r.key, r.value, r.offset
            high = consumer.highwater(tp)
            if high is not None and consumer.position(tp) >= high:
                return
            empty_polls = 0 if got else empty_polls + 1
            if high is None and empty_polls >= 10:  # no fetch answered with data: empty
                return
    finally:
        consumer.close()
