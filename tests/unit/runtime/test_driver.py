"""The stage driver without a broker: in-memory sink, snapshot store, log and clock."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry

from app.core.alerts import build_alert
from app.core.events import AlertEvent, RequestEvent, validate_event
from app.core.stages.account import AccountOutput, AccountStage
from app.core.stages.records import PivotInput, decode_link_inputs, decode_pivot_inputs
from app.runtime.config import Settings
from app.runtime.driver import StageDriver
from app.runtime.memory import ManualClock, MemoryLog, MemorySink, MemorySnapshotStore
from app.runtime.metrics import Metrics
from app.runtime.ports import Message
from tests.conftest import event_dict

T0 = 1_767_225_600_000  # a multiple of the 10-minute linkage tick
SETTINGS = Settings(topic_partitions=2, checkpoint_interval_s=60.0)
Q = SETTINGS.detection.pivot_partitions
INPUT = SETTINGS.input_topic


def value(i: int, *, account: str | None = None, event_id: str | None = None) -> bytes:
    """One event 10 s after the previous one, on one of three accounts and eight subnets."""
    return json.dumps(
        event_dict(
            event_id=event_id or f"e{i}",
            ts_ms=T0 + i * 10_000,
            account_id=account or f"acct-{i % 3}",
            client_ip=f"198.51.{i % 8}.7",
        )
    ).encode()


def batch(partition: int, values: Iterable[bytes], *, start: int = 0) -> list[Message]:
    return [(None, v, partition, start + i) for i, v in enumerate(values)]


def traffic(n: int = 100) -> dict[int, list[bytes]]:
    """``n`` events per input partition over 1,000 s: the watermark passes a tick end."""
    return {p: [value(1_000 * p + i) for i in range(n)] for p in (0, 1)}


def sample(m: Metrics, name: str, **labels: str) -> float:
    got = m.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


class Worker:
    """A driver with fresh fakes and a fresh metrics registry."""

    def __init__(
        self,
        *,
        stages: Sequence[str] = ("account",),
        store: MemorySnapshotStore | None = None,
        log: MemoryLog | None = None,
        clock: ManualClock | None = None,
        **kw: object,
    ) -> None:
        self.metrics = Metrics.create(CollectorRegistry())
        self.sink = MemorySink()
        self.store = store if store is not None else MemorySnapshotStore()
        self.log = log if log is not None else MemoryLog()
        self.clock = clock if clock is not None else ManualClock(epoch_ms=T0 + 86_400_000)
        self.driver = StageDriver(
            SETTINGS,
            self.metrics,
            sink=self.sink,
            stages=stages,
            stores={name: self.store for name in stages},
            read_back=self.log.read_back,
            highwater=lambda p: self.log.highwater(INPUT, p),
            clock=self.clock,
            **kw,  # type: ignore[arg-type]
        )

    def count(self, name: str, **labels: str) -> float:
        return sample(self.metrics, name, **labels)


# ---- output ---------------------------------------------------------------------------
def test_a_batch_sends_one_observations_message_per_pivot_partition() -> None:
    async def run() -> None:
        w = Worker()
        events = traffic()
        await w.driver.handle("account", batch(0, events[0]) + batch(1, events[1]))
        obs = w.sink.by_partition("observations")
        # one message per destination partition, holding both input partitions' records
        assert set(obs) == set(range(Q))
        assert all(len(msgs) == 1 for msgs in obs.values())
        # ... and exactly what the pure stages produce for the same events
        reference = {}
        for p in (0, 1):
            stage = AccountStage(SETTINGS.detection, partition=p, pivot_partitions=Q)
            evs = [validate_event(json.loads(v)) for v in events[p]]
            reference[p] = stage.process(evs, emitted_ms=0).pivot_inputs
        for q, (msg,) in obs.items():
            assert q is not None
            got = decode_pivot_inputs(msg.value)
            assert got == [reference[0][q], reference[1][q]]
        # (the traffic does route observations to several pivot partitions)
        assert len([q for q in range(Q) if reference[0][q].obs]) >= 2
        # a second batch: one more message per partition, not one per event
        await w.driver.handle("account", batch(0, [value(500)], start=100))
        assert len(w.sink.to("observations")) == 2 * Q

    asyncio.run(run())


def _alert_for(e: RequestEvent) -> AlertEvent:
    return build_alert(
        entity_type="account",
        entity_id=e.account_id,
        detector="test",
        score=0.99,
        threshold=0.8,
        window_start_ms=e.ts_ms,
        window_end_ms=e.ts_ms + 1,
        ts_ms=e.ts_ms + 1,
        emitted_ms=0,
        features={},
        baseline={},
        evidence={},
    )


class AlertingAccountStage(AccountStage):
    """The real account stage, plus one alert per event of account ``bad``: the driver's
    routing is under test here, not the detector."""

    def process(self, events: Iterable[RequestEvent], *, emitted_ms: int) -> AccountOutput:
        evs = list(events)
        out = super().process(evs, emitted_ms=emitted_ms)
        out.alerts += [_alert_for(e) for e in evs if e.account_id == "bad"]
        return out


def test_alerts_go_to_the_alert_sink_keyed_by_entity() -> None:
    async def run() -> None:
        det = SETTINGS.detection
        w = Worker(
            factories={
                "account": lambda p: AlertingAccountStage(det, partition=p, pivot_partitions=Q)
            }
        )
        values = [value(i) for i in range(5)] + [value(10 + i, account="bad") for i in range(2)]
        await w.driver.handle("account", batch(0, values))
        alerts = w.sink.to("alerts")
        assert [(m.key, m.partition) for m in alerts] == [(b"bad", None)] * 2
        got = [AlertEvent.model_validate_json(m.value) for m in alerts]
        assert [a.ts_ms for a in got] == [T0 + 100_001, T0 + 110_001]
        assert {m.role for m in w.sink.sent} == {"observations", "alerts"}
        labels = {"entity_type": "account", "severity": got[0].severity}
        assert w.count("hydrawatch_alerts_emitted_total", **labels) == 2

    asyncio.run(run())


def test_dead_letters_go_to_the_dlq_with_their_source() -> None:
    async def run() -> None:
        w = Worker()
        msgs = batch(1, [value(0), b"{not json", value(1)], start=7)
        msgs[1] = (b"k", *msgs[1][1:])
        await w.driver.handle("account", msgs)
        (dead,) = w.sink.to("dlq")
        headers = dict(dead.headers or [])
        assert dead.key == b"k"
        assert headers["hydrawatch-reason"] == b"invalid_json"
        assert headers["hydrawatch-source-topic"] == INPUT.encode()
        assert (headers["hydrawatch-source-partition"], headers["hydrawatch-source-offset"]) == (
            b"1",
            b"8",
        )
        assert b"not json" not in dead.value  # never the raw text
        assert w.count("hydrawatch_events_invalid_total", reason="invalid_json") == 1
        assert w.count("hydrawatch_dead_letters_published_total") == 1

    asyncio.run(run())


# ---- metrics ---------------------------------------------------------------------------
def test_metrics_count_messages_events_records_and_bytes() -> None:
    async def run() -> None:
        w = Worker()
        values = [value(0), value(1), value(2), value(99, event_id="e0"), b"{not json"]
        await w.driver.handle("account", batch(0, values, start=20))
        assert w.count("hydrawatch_messages_consumed_total") == 5
        assert w.count("hydrawatch_events_consumed_total") == 3  # valid, not duplicates
        assert w.count("hydrawatch_events_duplicate_total") == 1
        assert w.count("hydrawatch_stage_records_total", stage="account") == 4
        assert w.count("hydrawatch_input_position", partition="0") == 25
        assert w.count("hydrawatch_batch_events_count") == 1
        assert w.count("hydrawatch_batch_events_sum") == 3
        assert w.count("hydrawatch_tracked_entities", kind="accounts") == 3
        sent = sum(len(m.value) for m in w.sink.to("observations"))
        assert w.count("hydrawatch_internal_bytes_total", topic="observations") == sent
        assert w.count("hydrawatch_messages_skipped_total") == 0
        # the same messages again: skipped, and counted as such only
        await w.driver.handle("account", batch(0, values, start=20))
        assert w.count("hydrawatch_messages_skipped_total") == 5
        assert w.count("hydrawatch_messages_consumed_total") == 5

    asyncio.run(run())


# ---- checkpoints -----------------------------------------------------------------------
def test_a_snapshot_carries_the_offsets_of_the_applied_messages() -> None:
    async def run() -> None:
        w = Worker()
        events = traffic(5)
        await w.driver.handle("account", batch(0, events[0]) + batch(1, events[1], start=10))
        await w.driver.checkpoint("revoked")
        (snap,) = w.store.snapshots
        assert dict(snap.offsets) == {0: 5, 1: 15}  # the next offset not applied
        state = pickle.loads(w.store.state_of(snap))
        assert state["stage"] == "account"
        assert set(state["stages"][1].seen) == {f"e{1_000 + i}" for i in range(5)}
        assert w.count("hydrawatch_checkpoints_written_total") == 1
        # nothing applied since: no new snapshot
        await w.driver.checkpoint("interval")
        assert len(w.store.snapshots) == 1

    asyncio.run(run())


def test_a_snapshot_is_never_taken_while_output_is_unacknowledged() -> None:
    async def run() -> None:
        w = Worker()
        w.sink.hold()
        applying = asyncio.create_task(w.driver.handle("account", batch(0, traffic(5)[0])))
        while not w.sink.unacked:
            await asyncio.sleep(0)
        snapshotting = asyncio.create_task(w.driver.checkpoint("revoked"))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not snapshotting.done() and w.store.write_attempts == 0
        w.sink.release()
        await applying
        await snapshotting
        # taken once the batch was published, and it includes the batch
        (snap,) = w.store.snapshots
        assert dict(snap.offsets) == {0: 5}

    asyncio.run(run())


def test_a_failed_snapshot_write_is_counted_and_retried() -> None:
    async def run() -> None:
        w = Worker()
        w.store.fail_writes = 1
        w.clock.advance(SETTINGS.checkpoint_interval_s)
        await w.driver.handle("account", batch(0, traffic(5)[0]))  # not fatal
        assert (w.store.write_attempts, w.store.snapshots) == (1, [])
        assert w.count("hydrawatch_checkpoint_failures_total") == 1
        assert w.count("hydrawatch_checkpoints_written_total") == 0
        # re-deliveries only from here on: nothing new to snapshot but what failed
        again = batch(0, traffic(5)[0])[-1:]
        w.clock.advance(SETTINGS.checkpoint_interval_s - 1)
        await w.driver.handle("account", again)
        assert w.store.write_attempts == 1  # not yet due again
        w.clock.advance(1)
        await w.driver.handle("account", again)
        (snap,) = w.store.snapshots
        assert dict(snap.offsets) == {0: 5}
        assert w.count("hydrawatch_checkpoints_written_total") == 1

    asyncio.run(run())


# ---- taking partitions -----------------------------------------------------------------
def test_a_taken_partition_is_restored_read_back_and_skips_what_it_includes() -> None:
    async def run() -> None:
        log = MemoryLog()
        events = traffic(8)
        for p in (0, 1):
            for v in events[p]:
                log.append(INPUT, p, v)
        store = MemorySnapshotStore()
        first = Worker(store=store, log=log)
        await first.driver.handle(
            "account", log.messages(INPUT, 0)[:5] + log.messages(INPUT, 1)[:2]
        )
        await first.driver.checkpoint("revoked")
        # a second worker takes both partitions: snapshot, then the rest of the log
        second = Worker(store=store, log=log)
        await second.driver.assign([(INPUT, 0), (INPUT, 1), ("other", 0)])
        await second.driver.taken()
        assert second.count("hydrawatch_state_restored_total") == 2
        assert second.count("hydrawatch_messages_replayed_total") == 3 + 6
        assert second.count("hydrawatch_input_position", partition="0") == 8
        # the consumer group re-delivers from its older commit: all of it already applied
        sent = len(second.sink.sent)
        await second.driver.handle("account", log.messages(INPUT, 0, start=3))
        await second.driver.handle("account", log.messages(INPUT, 1))
        assert second.count("hydrawatch_messages_skipped_total") == 5 + 8
        assert len(second.sink.sent) == sent  # nothing re-applied, nothing re-sent
        # the state is that of one worker that applied everything once
        once = Worker(log=log)
        await once.driver.handle("account", log.messages(INPUT, 0) + log.messages(INPUT, 1))
        for p in (0, 1):
            a, b = second.driver.hosts["account"].stages[p], once.driver.hosts["account"].stages[p]
            assert (a.seen, a.sent, a.watermark_ms) == (b.seen, b.sent, b.watermark_ms)

    asyncio.run(run())


def test_no_batch_is_applied_before_its_partitions_are_read_back() -> None:
    async def run() -> None:
        log = MemoryLog()
        for v in traffic(4)[0]:
            log.append(INPUT, 0, v)
        w = Worker(log=log)
        await w.driver.assign([(INPUT, 0)])
        # the consumer delivers from offset 2 at once; the read-back of 0..3 goes first
        await w.driver.handle("account", log.messages(INPUT, 0, start=2))
        assert w.count("hydrawatch_messages_replayed_total") == 4
        assert w.count("hydrawatch_messages_skipped_total") == 2
        assert w.count("hydrawatch_messages_consumed_total") == 4

    asyncio.run(run())


# ---- idle marks and the downstream stages ----------------------------------------------
def test_a_quiet_caught_up_partition_is_declared_idle_to_every_pivot_partition() -> None:
    async def run() -> None:
        log = MemoryLog()
        for v in traffic(3)[0]:
            log.append(INPUT, 0, v)
        log.append(INPUT, 1, value(1_000))
        w = Worker(log=log)
        await w.driver.handle("account", log.messages(INPUT, 0))
        await w.driver.handle("account", log.messages(INPUT, 1))
        log.append(INPUT, 1, value(1_001))  # partition 1 is behind its high-water mark
        sent = len(w.sink.sent)
        w.clock.advance(SETTINGS.idle_after_s - 0.1)
        await w.driver.idle_marks()
        assert len(w.sink.sent) == sent  # not quiet long enough
        w.clock.advance(0.1)
        await w.driver.idle_marks()
        marks = w.sink.to("observations")[sent:]
        assert sorted(m.partition for m in marks if m.partition is not None) == list(range(Q))
        records = [r for m in marks for r in decode_pivot_inputs(m.value)]
        assert records == [PivotInput(0, None, r.first_seq, [], [], idle=True) for r in records]

    asyncio.run(run())


def test_observations_reach_the_pivot_stage_and_links_one_partition() -> None:
    async def run() -> None:
        front = Worker()
        events = traffic()
        await front.driver.handle("account", batch(0, events[0]) + batch(1, events[1]))
        wms = [s.watermark_ms for s in front.driver.hosts["account"].stages.values()]
        back = Worker(stages=("pivot", "campaign"))
        offsets: dict[int, int] = {}
        msgs: list[Message] = []
        for m in front.sink.to("observations"):
            assert m.partition is not None
            offsets[m.partition] = offsets.get(m.partition, -1) + 1
            msgs.append((m.key, m.value, m.partition, offsets[m.partition]))
        await back.driver.handle("pivot", msgs)
        assert back.count("hydrawatch_stage_clock_seconds", stage="pivot") == min(wms) / 1000
        (links,) = back.sink.to("links")  # every pivot partition's record in one message
        assert links.partition == 0
        records = decode_link_inputs(links.value)
        assert sorted(r.source for r in records) == list(range(Q))
        assert {r.clock_ms for r in records} == {min(wms)}
        await back.driver.handle("campaign", [(None, links.value, 0, 0)])
        assert back.count("hydrawatch_stage_clock_seconds", stage="campaign") == min(wms) / 1000

    asyncio.run(run())


# ---- verdicts ---------------------------------------------------------------------------
def test_verdicts_reach_every_stage_object_and_survive_a_restore() -> None:
    from app.core.verdicts import Verdict
    from app.runtime.memory import MemoryVerdicts

    async def run() -> None:
        v = Verdict(
            subject_kind="account", subject="acct-1", verdict="benign", reason="T-3",
            analyst="ana", issued_ms=T0,
        )  # fmt: skip
        source = MemoryVerdicts()
        source.append(v.key.encode(), v.model_dump_json().encode())
        source.append(b"org:x", b"{broken")
        log = MemoryLog()
        for val in traffic(8)[0]:
            log.append(INPUT, 0, val)
        store = MemorySnapshotStore()
        first = Worker(store=store, log=log, verdicts=source)
        await first.driver.handle("account", log.messages(INPUT, 0)[:4])
        assert source.waited == 1  # the topic was read to its end before anything applied
        assert first.count("hydrawatch_verdict_records_total", outcome="put") == 1
        assert first.count("hydrawatch_verdict_records_total", outcome="invalid") == 1
        assert first.count(
            "hydrawatch_verdicts_in_force", verdict="benign", subject_kind="account"
        ) == 1  # fmt: skip
        stage = first.driver.hosts["account"].stages[0]
        assert stage.verdicts is first.driver.book
        assert stage.verdicts.benign("account", "acct-1", at_ms=T0) == v
        await first.driver.checkpoint("revoked")
        # another worker restores the partition: it consults its own (live) verdicts
        fresh = MemoryVerdicts()
        second = Worker(store=store, log=log, verdicts=fresh)
        await second.driver.assign([(INPUT, 0)])
        await second.driver.taken()
        restored = second.driver.hosts["account"].stages[0]
        assert restored.verdicts is second.driver.book
        w = v.model_copy(update={"subject": "acct-2"})
        fresh.append(w.key.encode(), w.model_dump_json().encode())
        await second.driver.handle("account", log.messages(INPUT, 0, start=4))
        assert restored.verdicts.benign("account", "acct-2", at_ms=T0) is not None
        assert restored.verdicts.benign("account", "acct-1", at_ms=T0) is None  # not its topic

    asyncio.run(run())
