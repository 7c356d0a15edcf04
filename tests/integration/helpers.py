"""Produce and read back through a real broker with kafka-python."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from app.core.stages.partitioner import murmur2

__all__ = ["partition_for", "produce_batches", "produce_raw", "read_until"]


def partition_for(account_id: str, partitions: int) -> int:
    """Where a producer keying by account puts it (Kafka's default murmur2 partitioner)."""
    return (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


def produce_batches(
    bootstrap: str,
    topic: str,
    events: Sequence[dict[str, Any]],
    *,
    partitions: int,
    batch_size: int = 500,
) -> int:
    """Send events as batch envelopes, one partition per account."""
    by_part: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_part.setdefault(partition_for(e["account_id"], partitions), []).append(e)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_request_size=8 * 1024 * 1024
    )
    try:
        for p, evs in by_part.items():
            for i in range(0, len(evs), batch_size):
                producer.send(topic, value=orjson.dumps(evs[i : i + batch_size]), partition=p)
        producer.flush(timeout=30)
    finally:
        producer.close()
    return len(events)


def produce_raw(bootstrap: str, topic: str, values: Sequence[bytes], *, partition: int = 0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for v in values:
            producer.send(topic, value=v, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def read_until(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], *, timeout_s: float = 60.0
) -> list[Any]:
    """Read ``topic`` from the start until ``done(messages)`` or the timeout."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done(got):
            for msg in consumer:
                got.append(msg)
                if done(got):
                    break
    finally:
        consumer.close()
    return got
