"""Reads the alert topic (and the pivot stage's links topic) into an :class:`AlertStore`.

A daemon thread with a kafka-python consumer outside any consumer group: it reads every
partition from the beginning and follows, committing nothing (the console is a reader;
it never moves anyone's offsets).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.tools.console.store import AlertStore

__all__ = ["KafkaReader"]

log = logging.getLogger(__name__)


class KafkaReader:
    """Follow ``alert_topic`` (and ``links_topic`` unless None) from the beginning."""

    def __init__(
        self,
        store: AlertStore,
        *,
        bootstrap: str,
        alert_topic: str,
        links_topic: str | None,
        client_kwargs: dict[str, Any] | None = None,
        poll_timeout_ms: int = 500,
    ) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.alert_topic = alert_topic
        self.links_topic = links_topic
        self.client_kwargs = dict(client_kwargs or {})
        self.poll_timeout_ms = poll_timeout_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the last error the consumer raised (None while it reads)
        self.error: str | None = None

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
                    *topics,
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
                while not self._stop.is_set():
                    for tp, records in consumer.poll(timeout_ms=self.poll_timeout_ms).items():
                        links = tp.topic == self.links_topic
                        for r in records:
                            if links:
                                self.store.add_links_raw(r.value)
                            else:
                                self.store.add_raw(r.value)
            finally:
                consumer.close()
