"""``hydrawatch console``: the reader thread, the app and uvicorn, put together."""

from __future__ import annotations

from typing import Any

from app.tools.console.auth import check_bind
from app.tools.console.reader import KafkaReader
from app.tools.console.store import AlertStore
from app.tools.console.web import create_app

__all__ = ["run_console"]


def run_console(
    *,
    bootstrap: str,
    alert_topic: str,
    links_topic: str | None,
    host: str,
    port: int,
    token: str | None,
    client_kwargs: dict[str, Any] | None = None,
    max_alerts: int = 500_000,
    log_level: str = "warning",
) -> None:
    """Serve until interrupted; ValueError for a non-loopback ``host`` without ``token``."""
    import uvicorn

    check_bind(host, token)
    store = AlertStore(max_alerts=max_alerts)
    reader = KafkaReader(
        store,
        bootstrap=bootstrap,
        alert_topic=alert_topic,
        links_topic=links_topic,
        client_kwargs=client_kwargs,
    ).start()
    app = create_app(store, token=token or None)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        reader.stop()
