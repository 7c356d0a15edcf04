"""faust app: one agent per keyed stage, connected by internal topics.

```
llm.requests ─(account)─▶ account agent ─▶ <app_id>.observations ─(pivot)─▶ pivot agent
   (by account)             │  alerts, DLQ       (Q partitions)               │  entity alerts
                            ▼                                                 ▼
                      hydrawatch.alerts ◀── campaign agent ◀── <app_id>.links (1 partition)
```

Each agent turns its batch into ``(key, value, partition, offset)`` messages and hands
them to the worker's :class:`~app.runtime.driver.StageDriver`, which applies them to the
pure stage objects (:mod:`app.core.stages`), produces one message per destination partition
per batch through a topic-backed :class:`~app.runtime.ports.Sink`, and waits for the
broker's acknowledgements before the agent takes the next batch (whose offsets faust
then acks). This module only wires faust and Kafka to the driver: topics, agents, the
idle timer, rebalance and shutdown signals, the checkpoint stores and the read-back. A
worker runs the stages it is given (``--stages``); several workers share each stage's
partitions.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Awaitable, Mapping
from typing import Any

import faust
from faust.types import TP

from app.runtime.admin import security_kwargs
from app.runtime.checkpoint import CheckpointStore
from app.runtime.config import Settings
from app.runtime.driver import STAGES, StageDriver
from app.runtime.metrics import Metrics
from app.runtime.ports import Headers, SnapshotStore, TopicRole
from app.runtime.readback import read_back
from app.runtime.verdicts import VerdictFollower

__all__ = ["TopicSink", "create_app", "credentials_for"]


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
            mechanism=settings.effective_sasl_mechanism,
            ssl_context=ctx,
        )
    return faust.SSLCredentials(ctx)


class TopicSink:
    """The driver's :class:`~app.runtime.ports.Sink` over faust topics, one per role."""

    def __init__(self, topics: Mapping[TopicRole, Any]) -> None:
        self.topics = dict(topics)

    async def send(
        self,
        role: TopicRole,
        *,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Headers | None = None,
    ) -> Awaitable[object]:
        ack: Awaitable[object] = await self.topics[role].send(
            key=key, value=value, partition=partition, headers=headers
        )
        return ack


def create_app(settings: Settings, metrics: Metrics, *, stages: tuple[str, ...] = STAGES) -> Any:
    """Build the faust app with the agents of ``stages``."""
    unknown = set(stages) - set(STAGES)
    if unknown or not stages:
        raise ValueError(f"stages must be some of {', '.join(STAGES)}; got {stages}")
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
        producer_max_request_size=16 * 1024 * 1024,
        stream_buffer_maxsize=settings.stream_buffer_max_messages,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    input_topic = app.topic(settings.input_topic, **raw)
    obs_topic = app.topic(settings.observations_topic, **raw)
    links_topic = app.topic(settings.links_topic, **raw)
    sink = TopicSink(
        {
            "observations": obs_topic,
            "links": links_topic,
            "alerts": app.topic(settings.alert_topic, **raw),
            "dlq": app.topic(settings.dlq_topic, **raw),
        }
    )
    kw = security_kwargs(settings)
    sources = {
        "account": settings.input_topic,
        "pivot": settings.observations_topic,
        "campaign": settings.links_topic,
    }
    stores: dict[str, SnapshotStore] = {}
    if settings.checkpoint_interval_s > 0:
        for name in stages:
            stores[name] = CheckpointStore(
                settings.bootstrap_servers,
                settings.checkpoint_topic,
                owner=f"{settings.app_id}-{name}-{os.getpid()}",
                source=sources[name],
                client_kwargs=kw,
            )
    follower = VerdictFollower(settings.bootstrap_servers, settings.verdict_topic, client_kwargs=kw)
    driver = StageDriver(
        settings,
        metrics,
        sink=sink,
        verdicts=follower,
        stages=stages,
        stores=stores,
        read_back=functools.partial(
            read_back,
            settings.bootstrap_servers,
            timeout_s=600,
            max_fetch_bytes=settings.max_message_bytes + 1024,
            client_kwargs=kw,
        ),
        highwater=lambda p: app.consumer.highwater(TP(settings.input_topic, p)),
    )

    def make_agent(name: str, topic: Any) -> None:
        async def agent(stream: Any) -> None:
            async for batch in stream.take_events(
                settings.batch_max_messages, within=settings.batch_within_s
            ):
                await driver.handle(
                    name,
                    [
                        (ev.message.key, ev.value, ev.message.partition, ev.message.offset)
                        for ev in batch
                    ],
                )

        app.agent(topic, name=f"hydrawatch.{name}")(agent)

    topics = {"account": input_topic, "pivot": obs_topic, "campaign": links_topic}
    for name in driver.hosts:
        make_agent(name, topics[name])

    if "account" in driver.hosts:

        @app.timer(interval=max(0.5, settings.idle_after_s / 4))
        async def idle_marks() -> None:
            await driver.idle_marks()

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        await driver.checkpoint("revoked")  # fresh state for whoever gets these partitions

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: Any, **_: Any) -> None:
        await driver.assign((tp.topic, tp.partition) for tp in assigned)

    @app.on_before_shutdown.connect
    async def on_shutdown(sender: Any, **_: Any) -> None:
        await driver.close()
        follower.stop()

    @app.task
    async def mark_up() -> None:
        follower.start()
        metrics.worker_up.set(1)

    app.hydrawatch_driver = driver
    return app
