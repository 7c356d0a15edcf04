"""Rebalancing: two workers in a group, one SIGKILLed — its partitions and their state
move to the survivor, which keeps detecting; then a worker rejoins and takes half back.

The alerts, by id, must be those of ``hydrawatch detect`` over the same input (the same
stages in-process, no fault), and the final account state must have applied every event
once. The input ends with closing sentinels so the online clocks pass the traffic.
"""

from __future__ import annotations

import time
import uuid

import pytest

from app.runtime.admin import ensure_topics
from app.tools.broker import BrokerHandle
from app.tools.launcher import metric_value
from app.tools.simulate.basic import ABUSIVE_PREFIX
from tests.conftest import PARTITIONS
from tests.integration.helpers import produce_batches
from tests.reliability.conftest import OfflineReference
from tests.reliability.helpers import (
    Run,
    id_diff,
    position,
    read_observations,
    wait_for,
)

pytestmark = pytest.mark.reliability


def assigned(w: object) -> float:
    return metric_value(w.metrics(), "hydrawatch_assigned_partitions")  # type: ignore[attr-defined]


def campaign_clock_ms(w: object) -> float:
    s = w.metrics()  # type: ignore[attr-defined]
    return 1000 * metric_value(s, "hydrawatch_stage_clock_seconds", stage="campaign")


def test_partitions_and_state_move_to_the_survivor_and_back(
    broker: BrokerHandle, offline: OfflineReference
) -> None:
    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=PARTITIONS)
    until = offline.until_ms
    events = [e for e in offline.events if not e["event_id"].startswith("sentinel-")]
    sentinels = offline.events[len(events) :]  # they close the input
    ref_ids, ref_requests = set(offline.ids), offline.requests
    # Abuse starts at hour 3 of 8: the first part is benign warm-up, the rest arrives
    # after the kill, so the survivor must detect it.
    t_cut = min(e["ts_ms"] for e in events) + 3 * 3_600_000
    before = [e for e in events if e["ts_ms"] < t_cut]
    after = [e for e in events if e["ts_ms"] >= t_cut]
    half = len(after) // 2
    # The pauses between the phases below are the test's, not traffic's. With the idle
    # rule on, a partition declared idle in a pause while traffic is still to come lets
    # the pivot clock run ahead of it when traffic resumes (the documented trade of
    # determinism for liveness, docs/architecture.md): its observations may then be late
    # at the pivot stage, and alerts may differ from the offline run for that reason
    # alone (one run with the default rule matched; nothing guarantees it). Off here.
    run = Run(broker.url, broker.bootstrap, topic, env={"HYDRAWATCH_IDLE_AFTER_S": "3600"})
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
        produce_batches(broker.bootstrap, topic, after[half:] + sentinels, partitions=PARTITIONS)
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
            return bool(position(a) + position(c) >= total_msgs)

        wait_for(all_applied, timeout_s=120, what="every message applied", log=c.log_tail)
        # the campaign stage (on either worker) past the traffic: every alert emitted
        wait_for(
            lambda: max(campaign_clock_ms(a), campaign_clock_ms(c)) >= until,
            timeout_s=60,
            what="the campaign clock past the traffic",
            log=c.log_tail,
        )
        alerts = run.read_alerts(settle_s=1.0)
    finally:
        run.stop_all()
    requests = read_observations(broker.bootstrap, run).requests_until(until)
    # INFO logs of three workers through kill, restore and rebalance: no identities.
    logs = "".join(w.log_tail(1 << 30) for w in run.workers)
    assert "INFO" in logs
    for field in ("account_id", "client_ip", "tls_ja4", "payment_fingerprint"):
        values = {str(e[field]) for e in events if e.get(field)}
        leaked = [v for v in values if v in logs]
        assert not leaked, f"{field} values in worker logs: {leaked[:3]}"
    abusive = {e["account_id"] for e in events if e["account_id"].startswith(ABUSIVE_PREFIX)}
    alerted = {a["entity_id"] for a in alerts if a["entity_type"] == "account"}
    got = {a["alert_id"] for a in alerts if a["ts_ms"] <= until}
    print(
        f"rebalance: takeover in {takeover_s:.1f}s, {restored:.0f} partitions restored; "
        f"{len(alerted & abusive)}/{len(abusive)} abusive accounts alerted, "
        f"{len(alerted - abusive)} other accounts alerted; alert ids {len(got)}, offline "
        f"{len(ref_ids)}; requests observed {requests}, offline {ref_requests}"
    )
    assert alerted & abusive == abusive
    assert not alerted - abusive
    problems = [id_diff("kill, takeover and rejoin vs offline", ref_ids, got)]
    if requests != ref_requests:  # an event lost or applied twice by the moves
        problems.append(f"requests observed {requests}, offline {ref_requests}")
    assert not any(problems), "\n".join(filter(None, problems))
