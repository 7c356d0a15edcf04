"""Reads the alert topic (and the pivot stage's links topic, and the verdicts topic) into
an :class:`AlertStore`.

A daemon thread with a kafka-python consumer outside any consumer group: it reads every
partition from the beginning and follows, committing nothing (the console is a reader;
it never moves anyone's offsets). The verdicts topic is compacted and keyed by subject:
its records are applied in order, the newest per key wins and a tombstone withdraws
(:class:`~app.tools.console.verdicts.VerdictLog`). It is subscribed to only when it
exists (a worker creates it, compacted): a subscription can make a broker auto-create
a topic with its defaults, and a verdicts topic that deletes old records would lose
the verdicts that never expire.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.tools.console.store import AlertStore

__all__ = ["KafkaReader", "existing_topics"]

log = logging.getLogger(__name__)


def existing_topics(bootstrap: str, *, client_kwargs: dict[str, Any] | None = None) -> set[str]:
    """The broker's topics (a metadata request for all of them creates none)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **(client_kwargs or {}),
    )
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


class KafkaReader:
    """Follow ``alert_topic`` (and ``links_topic``, ``verdict_topic`` unless None) from the
    beginning."""

    def __init__(
        self,
        store: AlertStore,
        *,
        bootstrap: str,
        alert_topic: str,
        links_topic: str | None,
        verdict_topic: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
        poll_timeout_ms: int = 500,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.alert_topic = alert_topic
        self.links_topic = links_topic
        self.verdict_topic = verdict_topic
        self.client_kwargs = dict(client_kwargs or {})
        self.poll_timeout_ms = poll_timeout_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the last error the consumer raised (None while it reads)
        self.error: str | None = None
        #: the verdicts topic was asked for but did not exist when the reader subscribed
        self.verdicts_missing = False

    def start(self) -> KafkaReader:
        self._thread = threading.Thread(target=self._run, name="console-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        from kafka import KafkaConsumer

        topics = [self.alert_topic] + ([self.links_topic] if self.links_topic else [])
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    group_id=None,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    **self.client_kwargs,
                )
            except Exception as exc:  # no broker yet: log it, try again
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("console: cannot read %s: %s", self.bootstrap, self.error)
                self._stop.wait(5.0)
                continue
            self.error = None
            try:
                wanted = list(topics)
                if self.verdict_topic:
                    if self.verdict_topic in consumer.topics():
                        wanted.append(self.verdict_topic)
                    else:
                        self.verdicts_missing = True
                        log.warning(
                            "console: the verdicts topic %s does not exist (a worker creates "
                            "it, compacted): no verdict is shown until the console is "
                            "restarted after it does",
                            self.verdict_topic,
                        )
                consumer.subscribe(wanted)
                while not self._stop.is_set():
                    for tp, records in consumer.poll(timeout_ms=self.poll_timeout_ms).items():
                        if tp.topic == self.verdict_topic:
                            for r in records:  # timestamp -1: the broker has none
                                ts = r.timestamp if (r.timestamp or 0) > 0 else None
                                self.store.add_verdict_raw(
                                    r.key, r.value, ts_ms=ts, headers=r.headers
                                )
                            continue
                        links = tp.topic == self.links_topic
                        for r in records:
                            if links:
                                self.store.add_links_raw(r.value)
                            else:
                                self.store.add_raw(r.value)
            finally:
                consumer.close()
