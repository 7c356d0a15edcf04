"""Broker outage: the broker process is frozen (SIGSTOP) for 30 s and resumed.

The test runs its own embedded broker (freezing the session's shared one would stall
other tests; with an external or containerised broker this is the nearest honest
equivalent of a network partition). The worker must stay up, show the outage in its
metrics, and afterwards process everything exactly once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from app.runtime.admin import ensure_topics
from app.tools.broker import TansuBroker
from app.tools.launcher import metric_value
from app.tools.simulate.basic import generate_basic
from tests.conftest import PARTITIONS
from tests.integration.helpers import produce_batches
from tests.reliability.helpers import TRAFFIC, Run, wait_for

pytestmark = pytest.mark.reliability

OUTAGE_S = float(os.environ.get("HYDRAWATCH_TEST_OUTAGE_S", "30"))


@pytest.fixture
def own_broker() -> Iterator[TansuBroker]:
    with TansuBroker() as b:
        yield b


def test_worker_survives_a_30s_broker_outage(own_broker: TansuBroker) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(own_broker.bootstrap, [topic], partitions=PARTITIONS)
    events = generate_basic(TRAFFIC)
    half = len(events) // 2
    run = Run(own_broker.handle.url, own_broker.bootstrap, topic)
    try:
        w = run.worker()
        w.wait_assigned(min_partitions=PARTITIONS)
        produce_batches(own_broker.bootstrap, topic, events[:half], partitions=PARTITIONS)
        wait_for(
            lambda: metric_value(w.metrics(), "hydrawatch_events_consumed_total") >= half,
            timeout_s=60,
            what="the first half processed",
            log=w.log_tail,
        )
        own_broker.pause()
        t0 = time.monotonic()
        try:
            time.sleep(OUTAGE_S - 2)
            assert w.alive(), w.log_tail()
            during = w.metrics()  # the metrics endpoint stays up through the outage
            age_s = time.time() - metric_value(during, "hydrawatch_last_batch_timestamp_seconds")
            assert age_s >= OUTAGE_S - 5, f"last batch only {age_s:.1f}s old during the outage"
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
        finally:
            own_broker.resume()
        resumed = time.monotonic()
        produce_batches(own_broker.bootstrap, topic, events[half:], partitions=PARTITIONS)
        wait_for(
            lambda: (
                metric_value(w.metrics(), "hydrawatch_events_consumed_total")
                + metric_value(w.metrics(), "hydrawatch_events_duplicate_total")
                >= len(events)
            ),
            timeout_s=120,
            what="everything processed after the outage",
            log=w.log_tail,
        )
        catch_up_s = time.monotonic() - resumed
        after = w.metrics()
        assert w.alive(), w.log_tail()
    finally:
        run.stop_all()
    consumed = metric_value(after, "hydrawatch_events_consumed_total")
    failures = metric_value(after, "hydrawatch_checkpoint_failures_total")
    print(
        f"outage {OUTAGE_S:.0f}s: worker up throughout, last batch {age_s:.0f}s old during "
        f"it, all {len(events)} events processed {catch_up_s:.1f}s after the broker came "
        f"back; checkpoint failures {failures:.0f}, "
        f"re-delivered messages skipped "
        f"{metric_value(after, 'hydrawatch_messages_skipped_total'):.0f}"
    )
    # exactly once into the state: nothing lost, nothing counted twice
    assert consumed == len(events)
    assert metric_value(after, "hydrawatch_events_duplicate_total") == 0
