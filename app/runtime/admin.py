"""Topic creation and broker readiness, with kafka-python."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.runtime.config import Settings

__all__ = [
    "BrokerUnreachable",
    "ensure_topics",
    "read_partition",
    "security_kwargs",
    "wait_for_broker",
]


class BrokerUnreachable(TimeoutError):
    """No broker answered within the timeout; the message names it and what was tried."""


def security_kwargs(settings: Settings | None) -> dict[str, Any]:
    """kafka-python client options for the settings' SASL/TLS configuration.

    A SASL protocol always passes the mechanism (``Settings.effective_sasl_mechanism``:
    PLAIN when none is set, as for the faust clients) with the username and password;
    ``ssl_cafile`` is passed for the TLS protocols (SSL, SASL_SSL) only.

    >>> from app.runtime.config import Settings
    >>> kw = security_kwargs(Settings(security_protocol="SASL_SSL", sasl_username="u",
    ...                               sasl_password="p", ssl_cafile="/ca.pem"))
    >>> sorted(kw.items())  # doctest: +NORMALIZE_WHITESPACE
    [('sasl_mechanism', 'PLAIN'), ('sasl_plain_password', 'p'), ('sasl_plain_username', 'u'),
     ('security_protocol', 'SASL_SSL'), ('ssl_cafile', '/ca.pem')]
    """
    if settings is None or settings.security_protocol == "PLAINTEXT":
        return {}
    kw: dict[str, Any] = {"security_protocol": settings.security_protocol}
    mechanism = settings.effective_sasl_mechanism
    if mechanism is not None:
        kw["sasl_mechanism"] = mechanism
        kw["sasl_plain_username"] = settings.sasl_username
        kw["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value()
            if settings.sasl_password is not None
            else None
        )
    if settings.security_protocol in ("SSL", "SASL_SSL") and settings.ssl_cafile:
        kw["ssl_cafile"] = settings.ssl_cafile
    return kw


def _tcp_ready(bootstrap: str, *, timeout_s: float = 1.0) -> OSError | None:
    """None if a TCP connection to one of the bootstrap servers opens, else the last error."""
    last: OSError | None = None
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return None
        except OSError as exc:
            last = exc
    return last


def _client_timeouts(remaining_s: float) -> dict[str, int]:
    """kafka-python options that bound a client's own bootstrap wait (3.x has one)."""
    from kafka import KafkaAdminClient

    ms = max(int(remaining_s * 1000), 100)
    kw = {"request_timeout_ms": max(ms, 1_000)}
    if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG:
        kw["bootstrap_timeout_ms"] = ms
    return kw


def wait_for_broker(
    bootstrap: str,
    *,
    timeout_s: float = 30.0,
    alive: Callable[[], bool] | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Block until the broker answers a metadata request, or raise :class:`BrokerUnreachable`.

    Tries a TCP connection to each bootstrap server, then a metadata request, every
    0.1 s until ``timeout_s`` has passed; no single attempt outlasts the deadline.
    """
    from kafka import KafkaAdminClient

    deadline = time.monotonic() + timeout_s
    tried = "no attempt"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if alive is not None and not alive():
            raise RuntimeError("broker process exited during start-up")
        refused = _tcp_ready(bootstrap, timeout_s=min(1.0, remaining))
        if refused is not None:
            tried = f"TCP connect failed: {refused.strerror or refused}"
        else:
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=bootstrap,
                    **_client_timeouts(min(5.0, remaining)),
                    **dict(client_kwargs or {}),
                )
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except Exception as exc:
                tried = f"TCP connect worked, Kafka metadata request failed: {exc}"
        time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    raise BrokerUnreachable(
        f"no Kafka broker answered at {bootstrap} within {timeout_s:g}s ({tried})"
    )


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication: int = 1,
    client_kwargs: Mapping[str, Any] | None = None,
    timeout_s: float = 30.0,
    config: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (with topic ``config``, e.g.
    ``cleanup.policy=compact``); returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **dict(client_kwargs or {})
    )
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        created: list[str] = []
        for name in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name=name,
                            num_partitions=partitions,
                            replication_factor=replication,
                            topic_configs=dict(config or {}),
                        )
                    ],
                    timeout_ms=int(timeout_s * 1000),
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        # Wait until metadata shows every topic with its partitions.
        deadline = time.monotonic() + timeout_s
        wanted = set(topics)
        while time.monotonic() < deadline:
            if wanted <= set(admin.list_topics()):
                break
            time.sleep(0.1)
        else:
            raise TimeoutError(f"topics not visible after {timeout_s}s: {sorted(wanted)}")
        return created
    finally:
        admin.close()


def read_partition(
    bootstrap: str,
    topic: str,
    partition: int,
    *,
    start: int | None = None,
    end: int | None = None,
    timeout_s: float,
    max_fetch_bytes: int = 1024 * 1024,
    client_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Records of one partition with ``start <= offset < end``, outside any group.

    ``start`` None: from the oldest retained record; ``end`` None: to the end offset at
    the call (right on the embedded broker only for topics written one record per
    produce request). Raises TimeoutError if the range is not read within ``timeout_s``.
    """
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # below the log start: from the oldest retained
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=max_fetch_bytes,
        **dict(client_kwargs or {}),
    )
    try:
        consumer.assign([tp])
        if start is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, start)
        stop = consumer.end_offsets([tp])[tp] if end is None else end
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < stop:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{topic}[{partition}]: read to {consumer.position(tp)} of {stop} "
                    f"in {timeout_s:.0f}s"
                )
            for records in consumer.poll(timeout_ms=200).values():
                yield from (r for r in records if r.offset < stop)
    finally:
        consumer.close()
