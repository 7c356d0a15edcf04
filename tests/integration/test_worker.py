"""End to end through a real broker: events in, AlertEvents and metrics out."""

from __future__ import annotations

import contextlib
import hashlib
import time
import urllib.request
from collections.abc import Callable

import jsonschema
import orjson
import pytest

from app.core.events.schema import schema_documents
from app.tools.broker import BrokerHandle
from app.tools.launcher import WorkerProcess, metric_value
from app.tools.simulate.basic import ABUSIVE_PREFIX, BasicTraffic, generate_basic
from tests.integration.conftest import PARTITIONS, Topics
from tests.integration.helpers import produce_batches, produce_raw, read_until

pytestmark = pytest.mark.integration

TRAFFIC = BasicTraffic(
    benign_accounts=400,  # each input partition's account model warms up
    abusive_accounts=3,
    duration_ms=3 * 3_600_000,
    abuse_start_offset_ms=2 * 3_600_000,
    seed=5,
)


def wait_metric(w: WorkerProcess, name: str, at_least: float, timeout_s: float = 60) -> float:
    deadline = time.monotonic() + timeout_s
    value = 0.0
    while time.monotonic() < deadline:
        value = metric_value(w.metrics(), name)
        if value >= at_least:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{name} = {value} < {at_least}:\n{w.log_tail()}")


def test_events_to_alerts_and_metrics(
    broker: BrokerHandle, topics: Topics, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    worker.wait_assigned(min_partitions=PARTITIONS)
    events = generate_basic(TRAFFIC)
    sent = produce_batches(broker.bootstrap, topics.input, events, partitions=PARTITIONS)

    msgs = read_until(
        broker.bootstrap,
        topics.alerts,
        lambda got: any(ABUSIVE_PREFIX in m.value.decode() for m in got),
    )
    alerts = [orjson.loads(m.value) for m in msgs]
    assert any(a["entity_id"].startswith(ABUSIVE_PREFIX) for a in alerts), worker.log_tail()
    validator = jsonschema.Draft202012Validator(schema_documents()["alert_event.v1.json"])
    for m, a in zip(msgs, alerts, strict=True):
        validator.validate(a)
        assert m.key.decode() == a["entity_id"]

    assert wait_metric(worker, "hydrawatch_events_consumed_total", sent) == sent
    text = urllib.request.urlopen(worker.metrics_url, timeout=5).read().decode()
    samples = worker.metrics()
    assert metric_value(samples, "hydrawatch_alerts_emitted_total", entity_type="account") >= 1
    assert metric_value(samples, "hydrawatch_events_late_total") == 0
    assert metric_value(samples, "hydrawatch_batch_processing_seconds_count") >= 1
    assert "hydrawatch_event_time_lag_seconds" in text
    for account in {e["account_id"] for e in events}:
        assert account not in text


def test_invalid_messages_go_to_dlq_while_valid_ones_are_processed(
    broker: BrokerHandle, topics: Topics, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    worker.wait_assigned(min_partitions=PARTITIONS)
    good = generate_basic(TRAFFIC)
    bad_in_batch = [{"event_id": "half", "ts_ms": "noon"}, 17]
    mixed = [*good[:100], *bad_in_batch, *good[100:200]]
    produce_raw(
        broker.bootstrap,
        topics.input,
        [
            b"{this is not json",
            b"\xc3\x28 invalid utf-8",
            orjson.dumps(mixed),
            orjson.dumps(
                {
                    "event_id": "e",
                    "ts_ms": 1,
                    "account_id": "a",
                    "client_ip": "1.2.3.4",
                    "model": "m",
                    "prompt_tokens": -3,
                    "completion_tokens": 0,
                    "prompt": "raw text must not leak",
                }
            ),
        ],
    )
    dead = read_until(broker.bootstrap, topics.dlq, lambda got: len(got) >= 5)
    reasons = sorted(dict(m.headers)["hydrawatch-reason"].decode() for m in dead)
    assert reasons == sorted(
        ["invalid_json", "invalid_utf8", "invalid_event", "not_an_object", "invalid_event"]
    )
    for m in dead:
        h = dict(m.headers)
        assert h["hydrawatch-source-topic"].decode() == topics.input
        assert h["hydrawatch-detail"]
        assert b"raw text must not leak" not in m.value
    by_reason = {dict(m.headers)["hydrawatch-reason"]: m.value for m in dead}
    # unparseable input keeps no raw bytes (could hold prompt text): digest and length
    described = orjson.loads(by_reason[b"invalid_json"])
    assert described["sha256"] == hashlib.sha256(b"{this is not json").hexdigest()

    # The 200 valid events of the mixed batch were processed, and so is later traffic.
    assert wait_metric(worker, "hydrawatch_events_consumed_total", 200) == 200
    produce_batches(broker.bootstrap, topics.input, good[200:], partitions=PARTITIONS)
    alerts = read_until(broker.bootstrap, topics.alerts, lambda got: len(got) >= 1)
    assert alerts, worker.log_tail()
    samples = worker.metrics()
    assert metric_value(samples, "hydrawatch_events_invalid_total") == 5
    assert metric_value(samples, "hydrawatch_dead_letters_published_total") == 5


def test_two_workers_share_the_partitions(
    broker: BrokerHandle, topics: Topics, start_worker: Callable[..., WorkerProcess]
) -> None:
    a = start_worker()
    a.wait_assigned(min_partitions=PARTITIONS)
    b = start_worker()
    deadline = time.monotonic() + 60
    na = nb = 0.0
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            na = metric_value(a.metrics(), "hydrawatch_assigned_partitions")
            nb = metric_value(b.metrics(), "hydrawatch_assigned_partitions")
        if na >= 1 and nb >= 1 and na + nb == PARTITIONS:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"partitions not shared: {na} + {nb}\n{b.log_tail()}")
    sent = produce_batches(
        broker.bootstrap, topics.input, generate_basic(TRAFFIC), partitions=PARTITIONS
    )
    deadline = time.monotonic() + 60
    total = 0.0
    while time.monotonic() < deadline:
        total = sum(metric_value(w.metrics(), "hydrawatch_events_consumed_total") for w in (a, b))
        if total >= sent:
            break
        time.sleep(0.3)
    assert total == sent
    assert metric_value(a.metrics(), "hydrawatch_events_consumed_total") > 0
    assert metric_value(b.metrics(), "hydrawatch_events_consumed_total") > 0
