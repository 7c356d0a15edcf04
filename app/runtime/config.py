"""One frozen settings object, built once (env vars ``HYDRAWATCH_*``, CLI flags) and passed down.

Nested detection options use ``__`` in env vars, e.g.
``HYDRAWATCH_DETECTION__WINDOW_MS=300000``.

>>> s = Settings(broker="kafka://127.0.0.1:19092")
>>> s.detection.window_ms, s.input_topic
(600000, 'llm.requests')
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.settings import DetectionSettings

__all__ = ["SASL_MECHANISMS", "DetectionSettings", "Settings"]

#: The SASL mechanisms the clients are configured for: each takes a username and a
#: password (faust's SASLCredentials, kafka-python's sasl_plain_username/password).
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class Settings(BaseSettings):
    """Service settings. Immutable; build once with :meth:`Settings.build`."""

    model_config = SettingsConfigDict(
        env_prefix="HYDRAWATCH_",
        env_nested_delimiter="__",
        env_parse_none_str="none",
        frozen=True,
        extra="forbid",
    )

    app_id: str = "hydrawatch"
    broker: str = "kafka://127.0.0.1:9092"
    input_topic: str = "llm.requests"
    alert_topic: str = "hydrawatch.alerts"
    dlq_topic: str = "llm.requests.dlq"
    verdict_topic: str = Field(
        "hydrawatch.verdicts", description="Analyst verdicts (compacted, keyed by subject)"
    )
    verdict_dlq_topic: str = Field(
        "hydrawatch.verdicts.dlq", description="Malformed verdicts, with the reason (enforce)"
    )
    verdict_wait_s: float = Field(
        60.0, ge=0, description="How long a worker waits to read the verdicts before applying"
    )
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)
    create_topics: bool = True

    metrics_host: str = "127.0.0.1"
    console_host: str = Field(
        "127.0.0.1", description="hydrawatch console bind address (not loopback: needs a token)"
    )
    console_port: int = Field(8090, ge=0, le=65535)
    console_token: SecretStr | None = Field(
        None, description="Token every console request must present (?token= once, or Bearer)"
    )
    metrics_port: int = Field(9108, ge=0, le=65535)
    web_port: int = Field(6066, ge=1, le=65535, description="faust's own web port")
    datadir: str = "/tmp/hydrawatch-data"
    loglevel: str = "info"

    connect_timeout_s: float = Field(
        30.0,
        gt=0,
        description="How long a command waits for the broker to answer before it gives up "
        "with an error naming the broker",
    )
    session_timeout_s: float = Field(10.0, gt=0)
    heartbeat_interval_s: float = Field(1.0, gt=0)
    commit_interval_s: float = Field(2.0, gt=0)
    batch_max_messages: int = Field(2_000, ge=1)
    batch_within_s: float = Field(
        0.05,
        gt=0,
        description="An agent applies what it has after this long when its batch is not "
        "full: paid once per stage hop at low load (0.2 s: p99 produce-to-alert 2.1 s with "
        "one worker per stage at half load, 0.05 s: 1.5-1.9 s; docs/performance.md)",
    )
    batch_max_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="A consumed batch is applied in steps of at most this many bytes of "
        "message values, partitions in turn, yielding to the event loop in between",
    )
    stream_buffer_max_messages: int = Field(
        256,
        ge=1,
        description="Input messages buffered ahead of processing (faust's "
        "stream_buffer_maxsize); past it the consumer stops fetching the delivering "
        "partition until the buffer drains to half (faust's default 4096 envelopes "
        "could hold GBs)",
    )
    max_message_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(50_000, ge=1)
    max_dead_letter_bytes: int = Field(
        512 * 1024,
        ge=1024,
        description="A dead letter's value stays below this: a larger (redacted) input is "
        "described by its sha256 digest and length instead (the producer's default request "
        "limit is 1,000,000 bytes, headers included)",
    )
    malloc_mmap_threshold_bytes: int = Field(
        128 * 1024,
        ge=0,
        description="glibc: allocations at least this large get their own mapping, returned "
        "on free (keeps message buffers from fragmenting the heap); 0 = glibc's dynamic "
        "threshold",
    )
    gc_gen0_threshold: int = Field(
        50_000,
        ge=700,
        description="Cyclic-GC generation-0 threshold in the worker "
        "(Python's 700 makes full collections dominate under load)",
    )
    event_loop: Literal["asyncio", "uvloop"] = Field(
        "asyncio", description="Worker event loop (uvloop: see docs/performance.md)"
    )
    checkpoint_topic_override: str | None = Field(
        None, description="State snapshots topic (default: <app_id>.checkpoints)"
    )
    checkpoint_interval_s: float = Field(
        30.0, ge=0, description="State snapshot period (0: no checkpoints)"
    )
    idle_after_s: float = Field(
        10.0,
        gt=0,
        description="An input partition caught up and quiet this long is left out of the "
        "downstream stages' event-time minimum until it sends again",
    )
    stages: tuple[Literal["account", "pivot", "campaign"], ...] = Field(
        ("account", "pivot", "campaign"), description="Stages this worker runs"
    )
    max_future_skew_ms: int | None = Field(
        3_600_000, description="Reject events this far ahead of the wall clock (None: off)"
    )

    security_protocol: str = Field(
        "PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None

    detection: DetectionSettings = DetectionSettings()

    @model_validator(mode="after")
    def _sasl_complete(self) -> Settings:
        if self.effective_sasl_mechanism is None:
            return self
        if self.effective_sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"sasl_mechanism {self.sasl_mechanism!r} is not supported: "
                f"use one of {', '.join(SASL_MECHANISMS)}"
            )
        missing = [
            name
            for name, given in (
                ("sasl_username (HYDRAWATCH_SASL_USERNAME)", bool(self.sasl_username)),
                (
                    "sasl_password (HYDRAWATCH_SASL_PASSWORD)",
                    self.sasl_password is not None and bool(self.sasl_password.get_secret_value()),
                ),
            )
            if not given
        ]
        if missing:
            raise ValueError(
                f"security_protocol {self.security_protocol} needs {' and '.join(missing)}"
            )
        return self

    @property
    def effective_sasl_mechanism(self) -> str | None:
        """The SASL mechanism the clients use: None unless the protocol is SASL_*, then
        ``sasl_mechanism`` (upper case) or ``PLAIN`` when it is not set.

        The one source of truth for the kafka-python and the faust clients alike.

        >>> Settings(security_protocol="SASL_SSL", sasl_username="u",
        ...          sasl_password="p").effective_sasl_mechanism
        'PLAIN'
        >>> Settings(security_protocol="SSL").effective_sasl_mechanism is None
        True
        """
        if not self.security_protocol.startswith("SASL_"):
            return None
        return (self.sasl_mechanism or "PLAIN").upper()

    @property
    def observations_topic(self) -> str:
        """Account stage → pivot stage (``detection.pivot_partitions`` partitions)."""
        return f"{self.app_id}.observations"

    @property
    def links_topic(self) -> str:
        """Pivot stage → campaign stage (one partition)."""
        return f"{self.app_id}.links"

    @property
    def checkpoint_topic(self) -> str:
        return self.checkpoint_topic_override or f"{self.app_id}.checkpoints"

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port]`` without the ``kafka://`` scheme (for kafka-python)."""
        return ",".join(
            part.split("://", 1)[-1] for part in self.broker.replace(";", ",").split(",")
        )
