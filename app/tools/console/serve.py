"""``hydrawatch console``: the reader thread, the app and uvicorn, put together."""

from __future__ import annotations

from typing import Any

from app.tools.console.auth import check_bind
from app.tools.console.reader import KafkaReader, existing_topics
from app.tools.console.sink import KafkaVerdictSink
from app.tools.console.store import AlertStore
from app.tools.console.web import create_app

__all__ = ["run_console"]


def run_console(
    *,
    bootstrap: str,
    alert_topic: str,
    links_topic: str | None,
    verdict_topic: str | None = None,
    allow_verdicts: bool = False,
    host: str,
    port: int,
    token: str | None,
    client_kwargs: dict[str, Any] | None = None,
    max_alerts: int = 500_000,
    log_level: str = "warning",
) -> None:
    """Serve until interrupted; ValueError for a non-loopback ``host`` without ``token``,
    or ``allow_verdicts`` without a ``verdict_topic`` on the broker.

    With ``allow_verdicts`` the console records verdicts to ``verdict_topic``; otherwise
    it is read-only. That topic must exist (a worker creates it, compacted): the console
    creates no topic, so that no verdict lands in one that would delete it.
    """
    import uvicorn

    check_bind(host, token)
    if allow_verdicts:
        if not verdict_topic:
            raise ValueError("recording verdicts needs the verdicts topic read too")
        try:
            found = existing_topics(bootstrap, client_kwargs=client_kwargs)
        except Exception as exc:
            raise ValueError(
                f"cannot check the verdicts topic on {bootstrap}: {type(exc).__name__}: {exc}"
            ) from None
        if verdict_topic not in found:
            raise ValueError(
                f"the verdicts topic {verdict_topic} does not exist: a worker creates it "
                "(compacted); start one first, or create it with cleanup.policy=compact"
            )
    store = AlertStore(max_alerts=max_alerts)
    reader = KafkaReader(
        store,
        bootstrap=bootstrap,
        alert_topic=alert_topic,
        links_topic=links_topic,
        verdict_topic=verdict_topic,
        client_kwargs=client_kwargs,
    ).start()
    sink = (
        KafkaVerdictSink(bootstrap=bootstrap, topic=verdict_topic, client_kwargs=client_kwargs)
        if allow_verdicts and verdict_topic
        else None
    )
    app = create_app(store, token=token or None, sink=sink)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        reader.stop()
