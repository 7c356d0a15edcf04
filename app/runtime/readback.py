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

__all__ = ["Record", "read_back"]


Record = tuple[bytes | None, bytes | None, int]


def read_back(
    bootstrap: str,
    topic: str,
    starts: Mapping[int, int],
    *,
    timeout_s: float,
    max_fetch_bytes: int,
    client_kwargs: Mapping[str, Any] | None = None,
    chunk_messages: int = 50,
) -> Iterator[tuple[int, list[Record]]]:
    """``(partition, records)`` chunks of every record from each partition's start offset
    to its high-water mark, in offset order per partition (one consumer for all of
    them; memory bounded by a fetch, not by the backlog)."""
    from kafka import KafkaConsumer, TopicPartition

    if not starts:
        return
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
        tps = {p: TopicPartition(topic, p) for p in starts}
        consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, starts[p])
        deadline = time.monotonic() + timeout_s
        open_ = set(starts)
        empty_polls = 0
        while open_:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}{sorted(open_)}: not read back in {timeout_s:.0f}s")
            got = consumer.poll(timeout_ms=100, max_records=chunk_messages)
            for tp, records in got.items():
                yield tp.partition, [(r.key, r.value, r.offset) for r in records]
            for p in list(open_):
                high = consumer.highwater(tps[p])
                if high is not None and consumer.position(tps[p]) >= high:
                    open_.discard(p)
                    consumer.pause(tps[p])
            empty_polls = 0 if got else empty_polls + 1
            if empty_polls >= 20:  # nothing answered with data for 2 s: nothing more
                break
    finally:
        consumer.close()
