"""``hydrawatch enforce``: consume the alert topic into the enforcement list.

At-least-once: offsets are committed after the SQLite transaction that applied the
batch; a re-delivered alert is a no-op (``alert_id``). The list is written to a JSON
file after every batch (atomically) and/or served at ``GET /active`` on ``http_port``.
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
            if self.path.rstrip("/") != "/active":
                self.send_error(404)
                return
            with lock:
                entries = [e.as_dict() for e in store.active(now_s=time.time())]
            body = json.dumps({"entries": entries}).encode()
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
    counts = {"alerts": 0, "applied": 0, "invalid": 0, "expired": 0}
    t0 = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - t0 < max_seconds:
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
                        counts["applied"] += store.apply(alert, commit=False)
                store.commit()
                counts["expired"] += store.expire(now_s=now)
            if batch:
                consumer.commit()  # after the list is durable
            if json_path is not None:
                write_json(store, json_path, now_s=now)
    finally:
        consumer.close()
        if server is not None:
            server.shutdown()
        store.close()
    return counts
