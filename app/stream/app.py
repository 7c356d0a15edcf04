"""faust app factory: input topic → batched ingest agent → alert and dead-letter topics.

The agent consumes batches (``take_events``), hands the message values to the
pure :class:`~app.pipeline.Pipeline`, publishes its alerts and dead letters and
waits for the broker's acknowledgements before the batch's offsets are acked.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from app.config import Settings
from app.metrics import Metrics
from app.pipeline import Pipeline, PipelineOutput

__all__ = ["create_app", "credentials_for"]

_AGENT_NAME = "hydrawatch.ingest"


def credentials_for(settings: Settings) -> Any:
    """faust broker credentials for the configured SASL/TLS, or None for PLAINTEXT."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return None
    ctx = None
    if proto in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
    if proto.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=(
                settings.sasl_password.get_secret_value()
                if settings.sasl_password is not None
                else None
            ),
            mechanism=settings.sasl_mechanism or "PLAIN",
            ssl_context=ctx,
        )
    return faust.SSLCredentials(ctx)


def _dlq_headers(out_dead: Any, message: Any, input_topic: str) -> list[tuple[str, bytes]]:
    letter = out_dead.letter
    return [
        ("hydrawatch-reason", letter.reason.encode()),
        ("hydrawatch-detail", letter.detail.encode()),
        ("hydrawatch-source-topic", input_topic.encode()),
        ("hydrawatch-source-partition", str(message.partition).encode()),
        ("hydrawatch-source-offset", str(message.offset).encode()),
        ("hydrawatch-source-index", b"" if letter.index is None else str(letter.index).encode()),
    ]


def create_app(settings: Settings, metrics: Metrics, *, pipeline: Pipeline | None = None) -> Any:
    """Build the faust app with its topics and agent."""
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=credentials_for(settings),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        web_host="127.0.0.1",
        web_port=settings.web_port,
        datadir=settings.datadir,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
        producer_max_batch_size=256 * 1024,
    )
    source = app.topic(settings.input_topic, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(settings.alert_topic, key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")
    core = pipeline if pipeline is not None else Pipeline(settings, metrics)

    async def publish(out: PipelineOutput, batch: list[Any]) -> None:
        pending = []
        for alert in out.alerts:
            pending.append(
                await alerts_topic.send(
                    key=alert.entity_id.encode(), value=alert.model_dump_json().encode()
                )
            )
        for dead in out.dead:
            message = batch[dead.message_index].message
            pending.append(
                await dlq_topic.send(
                    key=message.key,
                    value=dead.letter.raw,
                    headers=_dlq_headers(dead, message, settings.input_topic),
                )
            )
        for fut in pending:  # broker acks before the batch's offsets are acked
            await fut
        if out.dead:
            metrics.dead_letters_published.inc(len(out.dead))

    @app.agent(source, name=_AGENT_NAME)
    async def ingest(stream: Any) -> None:
        async for batch in stream.take_events(
            settings.batch_max_messages, within=settings.batch_within_s
        ):
            out = core.handle(
                [event.value for event in batch], [event.message.partition for event in batch]
            )
            await publish(out, batch)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == settings.input_topic}
        core.drop_partitions([p for p in core.engines if p not in mine])
        metrics.assigned_partitions.set(len(mine))

    @app.task
    async def mark_up() -> None:
        metrics.worker_up.set(1)

    app.hydrawatch_pipeline = core
    return app
