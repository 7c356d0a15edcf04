"""``hydrawatch enforce``: consume the alert topic into the enforcement list.

At-least-once: offsets are committed after the SQLite transaction that applied the
batch; a re-delivered alert is a no-op (``alert_id``). The list is written to a JSON
file after every batch (atomically) and/or served at ``GET /active`` on ``http_port``.

Verdicts: the compacted verdicts topic is read from its beginning at every start (its
newest record per subject is the truth) next to the alerts. A benign verdict hides the
entries it covers from the list at once; ``GET /verdicts`` shows the verdicts in force
and the audit of every change (who, when, what it released). A malformed verdict record
goes to the verdicts DLQ once, with the reason in a header, and changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.core.events import AlertEvent
from app.core.verdicts import Withdrawal, decode_verdict
from app.enforce.store import EnforcementStore

__all__ = ["run_enforcer", "write_json"]

log = logging.getLogger("hydrawatch.enforce")


def write_json(store: EnforcementStore, path: Path, *, now_s: float) -> None:
    doc = {
        "generated_at_s": now_s,
        "entries": [e.as_dict() for e in store.active(now_s=now_s)],
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def _serve(store: EnforcementStore, lock: threading.Lock, host: str, port: int) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.rstrip("/")
            if path not in ("/active", "/verdicts"):
                self.send_error(404)
                return
            now = time.time()
            with lock:
                if path == "/active":
                    doc: dict[str, Any] = {
                        "entries": [e.as_dict() for e in store.active(now_s=now)]
                    }
                else:
                    doc = {
                        "verdicts": [
                            {**v.model_dump(), "verdict_id": v.verdict_id}
                            for v in store.verdicts(now_s=now)
                        ],
                        "audit": store.audit(),
                    }
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: no entity ids in logs
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_enforcer(
    *,
    bootstrap: str,
    topic: str,
    group_id: str,
    db_path: str,
    json_path: Path | None = None,
    http_host: str = "127.0.0.1",
    http_port: int | None = None,
    max_seconds: float | None = None,
    verdict_topic: str | None = None,
    verdict_dlq_topic: str | None = None,
    session_timeout_s: float = 10.0,
    heartbeat_interval_s: float = 1.0,
    client_kwargs: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Run until ``max_seconds`` (None: forever); returns counters."""
    from kafka import KafkaConsumer

    store = EnforcementStore(db_path)
    lock = threading.Lock()
    server = _serve(store, lock, http_host, http_port) if http_port is not None else None
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(session_timeout_s * 1000),
        heartbeat_interval_ms=int(heartbeat_interval_s * 1000),
        **(client_kwargs or {}),
    )
    counts = {
        "alerts": 0,
        "applied": 0,
        "invalid": 0,
        "expired": 0,
        "released": 0,
        "verdicts": 0,
        "verdicts_invalid": 0,
    }
    follower = _VerdictReader(bootstrap, verdict_topic, verdict_dlq_topic, client_kwargs)
    t0 = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - t0 < max_seconds:
            with lock:
                follower.apply(store, counts)
            batch = consumer.poll(timeout_ms=500)
            now = time.time()
            with lock:
                for records in batch.values():
                    for r in records:
                        counts["alerts"] += 1
                        try:
                            alert = AlertEvent.model_validate_json(r.value)
                        except ValidationError as exc:
                            counts["invalid"] += 1
                            log.warning(
                                "skipping an invalid alert at offset %d: %s",
                                r.offset,
                                exc.errors()[0]["msg"],
                            )
                            continue
                        changed = store.apply(alert, commit=False)
                        counts["applied"] += changed
                        counts["released"] += changed and alert.verdict_id is not None
                store.commit()
                counts["expired"] += store.expire(now_s=now)
            if batch:
                consumer.commit()  # after the list is durable
            if json_path is not None:
                write_json(store, json_path, now_s=now)
    except KeyboardInterrupt:  # a clean stop: what was applied is committed
        log.info("stopping on an interrupt")
    finally:
        consumer.close()
        follower.close()
        if server is not None:
            server.shutdown()
        store.close()
    return counts


class _VerdictReader:
    """The verdicts topic from its beginning (no group), applied to the store."""

    def __init__(
        self,
        bootstrap: str,
        topic: str | None,
        dlq_topic: str | None,
        client_kwargs: dict[str, Any] | None,
    ) -> None:
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.consumer: Any = None
        self.producer: Any = None
        if topic is None:
            return
        from kafka import KafkaProducer

        from app.runtime.verdicts import open_from_beginning

        try:
            self.consumer, _ = open_from_beginning(
                bootstrap, topic, client_kwargs=client_kwargs, wait_s=10
            )
        except TimeoutError:
            log.warning("verdicts topic %s not found: no verdicts applied", topic)
            return
        if dlq_topic is not None:
            self.producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", **(client_kwargs or {})
            )

    def apply(self, store: EnforcementStore, counts: dict[str, int]) -> None:
        if self.consumer is None:
            return
        now = time.time()
        for records in self.consumer.poll(timeout_ms=0).values():
            for r in records:
                counts["verdicts"] += 1
                if r.value is None:
                    if r.key is not None:
                        store.withdraw_verdict(
                            r.key.decode(errors="replace"),
                            now_s=now,
                            by=Withdrawal.from_headers(r.headers),
                        )
                    continue
                try:
                    v = decode_verdict(r.value)
                    if r.key is not None and r.key.decode(errors="replace") != v.key:
                        raise ValueError(
                            f"invalid verdict: record key is not the subject {v.key!r}"
                        )
                except ValueError as exc:
                    counts["verdicts_invalid"] += 1
                    log.warning("verdict at offset %d: %s", r.offset, exc)
                    self._dead_letter(store, r, str(exc))
                    continue
                released = store.apply_verdict(v, now_s=now)
                if released:
                    log.info("verdict %s released %d entries", v.verdict_id, len(released))

    def _dead_letter(self, store: EnforcementStore, r: Any, reason: str) -> None:
        if self.producer is None or not store.dead_lettered(
            self.topic or "", r.partition, r.offset
        ):
            return
        headers = [
            ("hydrawatch-error", reason[:500].encode()),
            ("hydrawatch-source-topic", (self.topic or "").encode()),
            ("hydrawatch-source-partition", str(r.partition).encode()),
            ("hydrawatch-source-offset", str(r.offset).encode()),
        ]
        self.producer.send(self.dlq_topic, key=r.key, value=r.value[:65_536], headers=headers).get(
            timeout=30
        )

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        if self.producer is not None:
            self.producer.close()
