"""The verdicts topic at runtime: follow it into every worker, write one record to it.

Every worker needs every verdict (each stage consults them at event time), so the
topic is read outside any consumer group, all partitions, from the beginning: the
compacted topic's newest verdict per subject is the book. :class:`VerdictFollower`
does that on a thread and hands records to the driver between batches
(:meth:`drain`); the driver waits for the first read to reach the topic's end before it
applies anything (:meth:`wait_caught_up`), so a restarted worker never processes
events without the verdicts that were in force.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from app.core.verdicts import Verdict, Withdrawal

__all__ = ["VerdictFollower", "open_from_beginning", "publish_verdict"]

log = logging.getLogger("hydrawatch.verdicts")

Record = tuple[bytes | None, bytes | None]


class VerdictFollower:
    """Reads ``topic`` (every partition, from offset 0) on a daemon thread."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        client_kwargs: Mapping[str, Any] | None = None,
        poll_timeout_ms: int = 500,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_kwargs = dict(client_kwargs or {})
        self.poll_timeout_ms = poll_timeout_ms
        self._inbox: deque[Record] = deque()
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> VerdictFollower:
        self._thread = threading.Thread(target=self._run, name="verdicts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drain(self) -> list[Record]:
        out = []
        inbox = self._inbox
        while inbox:
            out.append(inbox.popleft())
        return out

    def wait_caught_up(self, timeout_s: float) -> bool:
        return self._caught_up.wait(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            consumer = None
            try:
                consumer, tps = open_from_beginning(
                    self.bootstrap, self.topic, client_kwargs=self.client_kwargs, wait_s=30
                )
                while not self._stop.is_set():
                    got = consumer.poll(timeout_ms=self.poll_timeout_ms)
                    for records in got.values():
                        for r in records:
                            self._inbox.append((r.key, r.value))
                    if not self._caught_up.is_set():
                        ends = [consumer.highwater(tp) for tp in tps]
                        if not got and all(
                            h is not None and consumer.position(tp) >= h
                            for tp, h in zip(tps, ends, strict=True)
                        ):
                            self._caught_up.set()
                        elif not got and all(h is None for h in ends):
                            # an empty topic answers no fetch with a high-water mark
                            self._caught_up.set()
            except Exception as exc:  # a broker hiccup: reconnect, the thread must not die
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("verdicts follower: %s; retrying", self.error)
                self._stop.wait(1.0)
            finally:
                if consumer is not None:
                    consumer.close()
                # re-reading from the beginning after a reconnect re-puts the same verdicts


def open_from_beginning(
    bootstrap: str,
    topic: str,
    *,
    client_kwargs: Mapping[str, Any] | None = None,
    wait_s: float = 30.0,
) -> tuple[Any, list[Any]]:
    """A consumer outside any group, assigned every partition of ``topic`` at its first
    offset, and those partitions; ``TimeoutError`` when the topic has none within
    ``wait_s`` (the consumer is closed then)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=200,
        **dict(client_kwargs or {}),
    )
    deadline = time.monotonic() + wait_s
    parts = consumer.partitions_for_topic(topic)
    while not parts:
        if time.monotonic() > deadline:
            consumer.close()
            raise TimeoutError(f"topic {topic} has no partitions")
        time.sleep(0.2)
        parts = consumer.partitions_for_topic(topic)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer, tps


def publish_verdict(
    bootstrap: str,
    topic: str,
    *,
    verdict: Verdict | None = None,
    withdraw_key: str | None = None,
    withdrawal: Withdrawal | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    timeout_s: float = 30.0,
) -> tuple[int, int]:
    """Write one verdict (or a tombstone withdrawing ``withdraw_key``, with who withdrew
    it and why as its headers); its partition and offset once the broker acknowledged it."""
    from kafka import KafkaProducer

    if (verdict is None) == (withdraw_key is None):
        raise ValueError("give a verdict or a key to withdraw, not both")
    key = verdict.key if verdict is not None else withdraw_key
    assert key is not None
    value = verdict.model_dump_json().encode() if verdict is not None else None
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **dict(client_kwargs or {}))
    try:
        headers = withdrawal.headers() if verdict is None and withdrawal is not None else None
        meta = producer.send(topic, key=key.encode(), value=value, headers=headers).get(
            timeout=timeout_s
        )
        return meta.partition, meta.offset
    finally:
        producer.close()
