"""Rebalancing: two workers in a group, one SIGKILLed — its partitions and their state
move to the survivor, which keeps detecting; then a worker rejoins and takes half back."""

from __future__ import annotations

import time
import uuid

import pytest

from app.broker import BrokerHandle, ensure_topics
from app.simulate.basic import ABUSIVE_PREFIX, generate_basic
from app.stream.launcher import metric_value
from tests.conftest import PARTITIONS
from tests.integration.helpers import produce_batches
from tests.reliability.helpers import TRAFFIC, Run, position, wait_for

pytestmark = pytest.mark.reliability


def assigned(w: object) -> float:
    return metric_value(w.metrics(), "hydrawatch_assigned_partitions")  # type: ignore[attr-defined]


def test_partitions_and_state_move_to_the_survivor_and_back(broker: BrokerHandle) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
    events = generate_basic(TRAFFIC)
    # Abuse starts at hour 3 of 8: the first part is benign warm-up, the rest arrives
    # after the kill, so the survivor must detect it.
    t_cut = min(e["ts_ms"] for e in events) + 3 * 3_600_000
    before = [e for e in events if e["ts_ms"] < t_cut]
    after = [e for e in events if e["ts_ms"] >= t_cut]
    half = len(after) // 2
    run = Run(broker.url, broker.bootstrap, topic)
    try:
        a = run.worker()
        a.wait_assigned(min_partitions=PARTITIONS)
        b = run.worker()
        wait_for(
            lambda: assigned(a) >= 1 and assigned(b) >= 1 and assigned(a) + assigned(b) == 4,
            timeout_s=60,
            what="two workers sharing the partitions",
            log=b.log_tail,
        )
        sent = produce_batches(broker.bootstrap, topic, before, partitions=PARTITIONS)
        wait_for(
            lambda: (
                metric_value(a.metrics(), "hydrawatch_events_consumed_total")
                + metric_value(b.metrics(), "hydrawatch_events_consumed_total")
                >= sent
            ),
            timeout_s=60,
            what="the warm-up traffic processed",
        )
        wait_for(
            lambda: metric_value(b.metrics(), "hydrawatch_checkpoints_written_total") >= 1,
            timeout_s=30,
            what="a checkpoint of the worker to be killed",
        )
        b_position = position(b)
        t_kill = time.monotonic()
        b.kill()
        wait_for(lambda: assigned(a) == PARTITIONS, timeout_s=60, what="the survivor takes over")
        # restored (and the rest read back) before the survivor applies anything of them
        wait_for(
            lambda: metric_value(a.metrics(), "hydrawatch_state_restored_total") >= 1,
            timeout_s=60,
            what="the moved partitions restored",
            log=a.log_tail,
        )
        takeover_s = time.monotonic() - t_kill
        restored = metric_value(a.metrics(), "hydrawatch_state_restored_total")
        # The moved partitions resume where the dead worker's state ended, not at zero.
        assert b_position > 0
        wait_for(
            lambda: position(a) >= b_position,
            timeout_s=60,
            what="the survivor's position past the dead worker's",
            log=a.log_tail,
        )

        produce_batches(broker.bootstrap, topic, after[:half], partitions=PARTITIONS)
        wait_for(
            lambda: metric_value(a.metrics(), "hydrawatch_alerts_emitted_total") >= 1,
            timeout_s=60,
            what="the survivor alerting on the abuse",
            log=a.log_tail,
        )
        c = run.worker()
        wait_for(
            lambda: assigned(c) >= 1 and assigned(a) + assigned(c) == PARTITIONS,
            timeout_s=60,
            what="the rejoining worker taking partitions",
            log=c.log_tail,
        )
        wait_for(
            lambda: metric_value(c.metrics(), "hydrawatch_state_restored_total") >= 1,
            timeout_s=60,
            what="the rejoining worker restoring its partitions",
            log=c.log_tail,
        )
        produce_batches(broker.bootstrap, topic, after[half:], partitions=PARTITIONS)
        total_msgs = None

        def all_applied() -> bool:
            nonlocal total_msgs
            # every message of every partition applied by whoever owns it now
            from kafka import KafkaConsumer, TopicPartition

            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
            try:
                tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
                consumer.assign(tps)
                consumer.seek_to_end(*tps)
                total_msgs = sum(consumer.position(tp) for tp in tps)
            finally:
                consumer.close()
            return position(a) + position(c) >= total_msgs

        wait_for(all_applied, timeout_s=120, what="every message applied", log=c.log_tail)
        alerts = run.read_alerts()
    finally:
        run.stop_all()
    # INFO logs of three workers through kill, restore and rebalance: no identities.
    logs = "".join(w.log_tail(1 << 30) for w in run.workers)
    assert "INFO" in logs
    for field in ("account_id", "client_ip", "tls_ja4", "payment_fingerprint"):
        values = {str(e[field]) for e in events if e.get(field)}
        leaked = [v for v in values if v in logs]
        assert not leaked, f"{field} values in worker logs: {leaked[:3]}"
    abusive = {e["account_id"] for e in events if e["account_id"].startswith(ABUSIVE_PREFIX)}
    alerted = {a["entity_id"] for a in alerts if a["entity_type"] == "account"}
    print(
        f"rebalance: takeover in {takeover_s:.1f}s, {restored:.0f} partitions restored; "
        f"{len(alerted & abusive)}/{len(abusive)} abusive accounts alerted, "
        f"{len(alerted - abusive)} other accounts alerted"
    )
    assert alerted & abusive == abusive
    assert not alerted - abusive
