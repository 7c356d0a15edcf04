"""The fuzz corpus through a real worker and broker: it stays up, every invalid input
reaches the DLQ with its reason, every valid event is processed."""

from __future__ import annotations

import uuid

import orjson
import pytest
from kafka import KafkaProducer

from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle
from app.tools.launcher import metric_value
from tests.conftest import event_dict
from tests.integration.helpers import read_until
from tests.reliability.helpers import Run, wait_for
from tests.unit.test_hostile_input import CORPUS

pytestmark = pytest.mark.reliability


def test_worker_survives_the_fuzz_corpus(broker: BrokerHandle) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=1)
    run = Run(broker.url, broker.bootstrap, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=32 * 1024 * 1024)
    valid = 0
    try:
        w = run.worker()
        w.wait_assigned(min_partitions=1)
        for i, value in enumerate(CORPUS.values()):
            producer.send(topic, value=value, partition=0)
            good = [event_dict(event_id=f"ok-{i}-{j}", account_id=f"acct-{j}") for j in range(3)]
            producer.send(topic, value=orjson.dumps(good), partition=0)
            valid += 3
        producer.flush(timeout=60)
        messages = 2 * len(CORPUS)

        def settled() -> bool:
            # The position moves when a batch is applied; its dead letters are counted
            # once the broker acked them, a moment later.
            s = w.metrics()
            return metric_value(s, "hydrawatch_input_position") >= messages and metric_value(
                s, "hydrawatch_dead_letters_published_total"
            ) >= metric_value(s, "hydrawatch_events_invalid_total")

        wait_for(
            settled,
            timeout_s=120,
            what="every message applied and its dead letters acked",
            log=w.log_tail,
        )
        samples = w.metrics()
        assert w.alive(), w.log_tail()
        invalid = metric_value(samples, "hydrawatch_events_invalid_total")
        published = metric_value(samples, "hydrawatch_dead_letters_published_total")
        dead = read_until(broker.bootstrap, run.dlq, lambda got: len(got) >= published)
    finally:
        producer.close()
        run.stop_all()
    assert invalid == published == len(dead)
    assert invalid >= len(CORPUS) - 5  # a few corpus entries are valid events (e.g. next week)
    for m in dead:
        headers = dict(m.headers)
        assert headers["hydrawatch-reason"] and headers["hydrawatch-detail"]
        assert b"harvest me" not in m.value
    # every valid neighbour was processed (the corpus's own valid events on top)
    assert metric_value(samples, "hydrawatch_events_consumed_total") >= valid
