from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle, broker_for_tests
from app.tools.launcher import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "schemas" / "examples" / "request_events.jsonl"


def event_dict(**overrides: object) -> dict[str, object]:
    """A valid RequestEvent v1 dict."""
    base: dict[str, object] = {
        "event_id": "e-1",
        "ts_ms": 1_767_225_600_000,
        "account_id": "acct-1",
        "client_ip": "203.0.113.7",
        "model": "frontier-1",
        "prompt_tokens": 900,
        "completion_tokens": 300,
    }
    base.update(overrides)
    return base


@pytest.fixture
def make_event() -> object:
    return event_dict


# ---- a real Kafka-protocol broker and real worker processes (integration, reliability) ----
# Broker: KAFKA_BOOTSTRAP if set, testcontainers Kafka if a Docker engine answers, the
# embedded tansu broker otherwise (one per test session). Every test gets its own topics
# and consumer group, so tests never see each other's data.

PARTITIONS = 4


@dataclass(frozen=True)
class Topics:
    input: str
    alerts: str
    dlq: str

    def env(self) -> dict[str, str]:
        return {
            "HYDRAWATCH_INPUT_TOPIC": self.input,
            "HYDRAWATCH_ALERT_TOPIC": self.alerts,
            "HYDRAWATCH_DLQ_TOPIC": self.dlq,
            "HYDRAWATCH_TOPIC_PARTITIONS": str(PARTITIONS),
        }


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerHandle]:
    with broker_for_tests() as handle:
        yield handle


@pytest.fixture
def topics(broker: BrokerHandle) -> Topics:
    tag = uuid.uuid4().hex[:8]
    t = Topics(f"it-{tag}.requests", f"it-{tag}.alerts", f"it-{tag}.dlq")
    ensure_topics(broker.bootstrap, [t.input, t.alerts, t.dlq], partitions=PARTITIONS)
    return t


@pytest.fixture
def start_worker(broker: BrokerHandle, topics: Topics) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``hydrawatch worker`` processes in one fresh consumer group; all stopped after."""
    group = f"hydrawatch-it-{uuid.uuid4().hex[:8]}"
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        w = WorkerProcess(broker_url=broker.url, app_id=group, env={**topics.env(), **env})
        started.append(w.start())
        return w

    yield start
    for w in started:
        rc = w.stop()
        assert rc in (0, -9, None), f"worker exit code {rc}:\n{w.log_tail()}"
