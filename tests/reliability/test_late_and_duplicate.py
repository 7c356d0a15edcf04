"""Late, out-of-order and duplicated events through a real worker."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle
from app.tools.launcher import metric_value
from tests.conftest import event_dict
from tests.integration.helpers import produce_raw
from tests.reliability.helpers import Run, wait_for

pytestmark = pytest.mark.reliability

T0 = 1_767_225_600_000


def test_out_of_order_within_grace_counted_beyond_grace_late_repeats_once(
    broker: BrokerHandle,
) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=1)
    events = [
        event_dict(event_id=f"e{i}", account_id=f"a{i % 9}", ts_ms=T0 + i * 1_000)
        for i in range(3_000)
    ]
    rng = random.Random(4)
    # arrival order: up to 50 s behind (grace is 60 s)
    shuffled = sorted(events, key=lambda e: int(e["ts_ms"]) + rng.randint(0, 50_000))
    late = event_dict(event_id="too-late", account_id="a1", ts_ms=T0)  # 50 min behind
    messages = [orjson.dumps(shuffled[i : i + 100]) for i in range(0, len(shuffled), 100)]
    messages.append(orjson.dumps([late]))
    messages.append(orjson.dumps(shuffled[-300:]))  # a producer retry of the last batches
    run = Run(broker.url, broker.bootstrap, topic, partitions=1)
    try:
        w = run.worker()
        w.wait_assigned(min_partitions=1)
        produce_raw(broker.bootstrap, topic, messages)
        wait_for(
            lambda: metric_value(w.metrics(), "hydrawatch_input_position") >= len(messages),
            timeout_s=60,
            what="all messages applied",
            log=w.log_tail,
        )
        s = w.metrics()
    finally:
        run.stop_all()
    assert metric_value(s, "hydrawatch_events_consumed_total") == len(events) + 1
    assert metric_value(s, "hydrawatch_events_late_total") == 1
    assert metric_value(s, "hydrawatch_events_duplicate_total") == 300
