"""kill -9 of a worker that runs only the pivot stage: nothing lost, nothing extra.

One worker runs the account and campaign stages, another the pivot stage alone (4 input
partitions, 4 pivot partitions). The pivot worker is killed mid-stream and restarted;
its restored partitions resume from their snapshots, the account stage's records it had
not applied are read again, and records it re-sends are recognised downstream. The
alerts, by id, must be those of one worker running everything without a fault.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle
from app.tools.launcher import metric_value
from tests.conftest import PARTITIONS
from tests.reliability.helpers import (
    Run,
    alert_ids,
    final_clock_ms,
    produce_traffic,
    wait_campaign_clock,
    wait_for,
    wait_position,
    wait_settled,
)

pytestmark = pytest.mark.reliability


def test_kill_9_of_a_pivot_only_worker(broker: BrokerHandle) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
    events, messages = produce_traffic(broker.bootstrap, topic)
    until = final_clock_ms(events)
    until -= until % 600_000  # the last linkage tick

    ref = Run(broker.url, broker.bootstrap, topic)
    try:
        w = ref.worker()
        wait_position(w, messages, timeout_s=300)
        wait_campaign_clock(w, until)
        ref_ids = alert_ids(ref.read_alerts())
    finally:
        ref.stop_all()
    assert len(ref_ids) >= 5

    run = Run(
        broker.url,
        broker.bootstrap,
        topic,
        env={"HYDRAWATCH_BATCH_MAX_MESSAGES": "4", "HYDRAWATCH_CHECKPOINT_INTERVAL_S": "1"},
    )
    try:
        front = run.worker(HYDRAWATCH_STAGES='["account","campaign"]')
        pivot = run.worker(HYDRAWATCH_STAGES='["pivot"]')

        def pivot_busy() -> bool:
            s = pivot.metrics()
            return (
                metric_value(s, "hydrawatch_checkpoints_written_total") >= 1
                and metric_value(s, "hydrawatch_stage_records_total", stage="pivot") > 20_000
            )

        wait_for(pivot_busy, timeout_s=300, what="the pivot worker mid-stream", log=pivot.log_tail)
        pivot.kill()
        again = run.worker(HYDRAWATCH_STAGES='["pivot"]')
        wait_for(
            lambda: metric_value(front.metrics(), "hydrawatch_input_position") >= messages,
            timeout_s=300,
            what="input applied",
            log=front.log_tail,
        )
        wait_campaign_clock(front, until)  # every tick, through the restarted pivot stage
        wait_settled([front, again], timeout_s=300)
        restored = metric_value(again.metrics(), "hydrawatch_state_restored_total")
        alerts = run.read_alerts()
    finally:
        run.stop_all()
    got = alert_ids(alerts)
    dupes = sum(n - 1 for n in Counter(a["alert_id"] for a in alerts).values())
    print(
        f"pivot worker killed; restored {restored:.0f} pivot partitions; alerts: reference "
        f"{len(ref_ids)}, got {len(got)}, duplicates {dupes}, missing {len(ref_ids - got)}, "
        f"extra {len(got - ref_ids)}"
    )
    assert restored >= 1, again.log_tail()
    assert not ref_ids - got, f"missing: {sorted(ref_ids - got)[:5]}"
    assert not got - ref_ids, f"extra: {sorted(got - ref_ids)[:5]}"
