"""Crash recovery: SIGKILL / SIGTERM a worker mid-stream, restart it, compare with an
uninterrupted run over the same input (alerts by ``alert_id``, state by offsets).

Every stage's output is a function of its input (``docs/architecture.md``), so any
difference from the uninterrupted run is the crash's doing.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from app.broker import BrokerHandle
from app.stream.launcher import metric_value
from tests.reliability.helpers import (
    Run,
    alert_ids,
    position,
    produce_traffic,
    wait_for,
    wait_position,
)

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def reference(broker: BrokerHandle) -> tuple[str, int, set[str]]:
    """One input topic with the traffic, and the alert ids of an uninterrupted run."""
    import uuid

    from app.broker import ensure_topics

    topic = f"rel-{uuid.uuid4().hex[:8]}.requests"
    ensure_topics(broker.bootstrap, [topic], partitions=1)
    _, messages = produce_traffic(broker.bootstrap, topic, partitions=1)
    run = Run(broker.url, broker.bootstrap, topic, partitions=1)
    try:
        w = run.worker()
        wait_position(w, messages)
        alerts = run.read_alerts()
    finally:
        run.stop_all()
    ids = alert_ids(alerts)
    assert len(ids) >= 5, "the reference run must alert for the comparison to mean anything"
    return topic, messages, ids


@pytest.mark.parametrize(
    ("sig", "checkpoint_s"),
    [(signal.SIGKILL, "1"), (signal.SIGTERM, "1"), (signal.SIGKILL, "3600")],
    ids=["sigkill", "sigterm", "sigkill-before-any-checkpoint"],
)
def test_worker_restart_mid_stream_loses_no_alert(
    broker: BrokerHandle,
    reference: tuple[str, int, set[str]],
    sig: signal.Signals,
    checkpoint_s: str,
) -> None:
    """Killed with a recent checkpoint, stopped gracefully, or killed before its first
    checkpoint while the group had already committed offsets (state is then rebuilt by
    reading the partition back up to where the consumer resumes)."""
    topic, messages, ref_ids = reference
    # Small batches so the stream takes long enough to be interrupted in the middle.
    run = Run(
        broker.url,
        broker.bootstrap,
        topic,
        partitions=1,
        env={
            "HYDRAWATCH_BATCH_MAX_MESSAGES": "2",
            "HYDRAWATCH_CHECKPOINT_INTERVAL_S": checkpoint_s,
            "HYDRAWATCH_COMMIT_INTERVAL_S": "0.5",
        },
    )
    need_checkpoints = 1 if checkpoint_s == "1" else 0
    try:
        first = run.worker()
        wait_for(
            lambda: (
                metric_value(first.metrics(), "hydrawatch_checkpoints_written_total")
                >= need_checkpoints
                and position(first) >= messages * 0.3
            ),
            timeout_s=120,
            what="a checkpoint and 30% of the input",
            log=first.log_tail,
        )
        if not need_checkpoints:
            time.sleep(0.7)  # let the group commit (every 0.5 s) what the worker processed
        at_kill = position(first)
        t_kill = time.monotonic()
        first._proc.send_signal(sig) if first._proc else None
        assert first._proc is not None
        rc = first._proc.wait(timeout=30)
        stop_s = time.monotonic() - t_kill
        assert at_kill < messages, "the worker finished before it could be interrupted"
        if sig == signal.SIGTERM:
            assert rc == 0, first.log_tail()
            assert stop_s < 15, f"graceful stop took {stop_s:.1f}s"
        second = run.worker()
        wait_position(second, messages)
        recovery_s = time.monotonic() - t_kill
        samples = second.metrics()
        alerts = run.read_alerts()
    finally:
        run.stop_all()

    got = alert_ids(alerts)
    missing = ref_ids - got
    extra = got - ref_ids
    dupes = sum(n - 1 for n in Counter(a["alert_id"] for a in alerts).values())
    restored = metric_value(samples, "hydrawatch_state_restored_total")
    replayed = metric_value(samples, "hydrawatch_messages_replayed_total")
    skipped = metric_value(samples, "hydrawatch_messages_skipped_total")
    print(
        f"{sig.name} (checkpoint every {checkpoint_s}s): killed at {at_kill:.0f}/{messages} "
        f"messages, stopped in {stop_s:.1f}s, all applied again {recovery_s:.1f}s after "
        f"the signal; partitions restored {restored:.0f}, messages replayed "
        f"{replayed:.0f}, re-delivered and skipped {skipped:.0f}; alerts: reference "
        f"{len(ref_ids)}, got {len(got)} distinct, {dupes} duplicates, missing "
        f"{len(missing)}, extra {len(extra)}"
    )
    if need_checkpoints:  # each stage's partitions: account 1, pivot 4, campaign 1
        assert restored >= 1, second.log_tail()
    else:
        assert restored == 0 and replayed >= 1, second.log_tail()
    assert not missing, f"alerts of the uninterrupted run missing: {sorted(missing)[:5]}"
    assert not extra, f"alerts the uninterrupted run did not emit: {sorted(extra)[:5]}"
