"""Every Prometheus metric hydrawatch exports, defined in one place.

Label values are bounded enums (reason codes, entity types, severities); never
account ids, IPs or fingerprints.

>>> from prometheus_client import CollectorRegistry
>>> m = Metrics.create(CollectorRegistry())
>>> m.events_consumed.inc(3)
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
_BATCH_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000)


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    messages_consumed: Counter
    events_consumed: Counter
    events_invalid: Counter
    events_late: Counter
    raw_text_dropped: Counter
    dead_letters_published: Counter
    alerts_emitted: Counter
    windows_closed: Counter
    batch_processing_seconds: Histogram
    batch_events: Histogram
    event_time_lag_seconds: Gauge
    watermark_seconds: Gauge
    open_windows: Gauge
    assigned_partitions: Gauge
    worker_up: Gauge
    campaigns_active: Gauge
    tracked_entities: Gauge
    events_duplicate: Counter
    state_evictions: Counter
    messages_skipped: Counter
    messages_replayed: Counter
    input_position: Gauge
    last_batch_timestamp: Gauge
    checkpoints_written: Counter
    checkpoint_failures: Counter
    checkpoint_bytes: Gauge
    checkpoint_seconds: Histogram
    state_restored: Counter
    window_scores: Histogram
    input_lag_messages: Gauge
    stage_cpu_seconds: Counter
    stage_records: Counter
    internal_bytes: Counter
    stage_clock_seconds: Gauge
    verdict_records: Counter
    verdicts_in_force: Gauge
    verdicts_late: Counter
    alerts_suppressed: Counter
    remembered_indicators: Gauge
    remembered_member_alerts: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            messages_consumed=Counter(
                "hydrawatch_messages_consumed",
                "Kafka messages (single events or batch envelopes) consumed",
                registry=r,
            ),
            events_consumed=Counter(
                "hydrawatch_events_consumed", "Valid request events accepted", registry=r
            ),
            events_invalid=Counter(
                "hydrawatch_events_invalid",
                "Invalid inputs sent to the dead-letter topic",
                ["reason"],
                registry=r,
            ),
            events_late=Counter(
                "hydrawatch_events_late",
                "Valid events whose window had closed (beyond the grace period)",
                registry=r,
            ),
            raw_text_dropped=Counter(
                "hydrawatch_raw_text_fields_dropped",
                "Valid events that carried raw prompt/completion fields, which were discarded",
                registry=r,
            ),
            dead_letters_published=Counter(
                "hydrawatch_dead_letters_published", "Dead-letter records produced", registry=r
            ),
            alerts_emitted=Counter(
                "hydrawatch_alerts_emitted",
                "Alerts emitted",
                ["entity_type", "severity"],
                registry=r,
            ),
            windows_closed=Counter(
                "hydrawatch_windows_closed",
                "Entity windows closed and scored",
                ["entity_type"],
                registry=r,
            ),
            batch_processing_seconds=Histogram(
                "hydrawatch_batch_processing_seconds",
                "Wall time to process one consumed batch end to end (decode, detect, emit)",
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            batch_events=Histogram(
                "hydrawatch_batch_events",
                "Events per processed batch",
                buckets=_BATCH_BUCKETS,
                registry=r,
            ),
            event_time_lag_seconds=Gauge(
                "hydrawatch_event_time_lag_seconds",
                "Wall clock minus the newest event time seen",
                registry=r,
            ),
            watermark_seconds=Gauge(
                "hydrawatch_watermark_seconds", "Event-time watermark (epoch seconds)", registry=r
            ),
            open_windows=Gauge(
                "hydrawatch_open_windows",
                "Entity windows currently open",
                ["entity_type"],
                registry=r,
            ),
            assigned_partitions=Gauge(
                "hydrawatch_assigned_partitions",
                "Input partitions assigned to this worker",
                registry=r,
            ),
            worker_up=Gauge("hydrawatch_worker_up", "1 while the worker's agents run", registry=r),
            campaigns_active=Gauge(
                "hydrawatch_campaigns_active",
                "Campaigns alerted on in the last 24 h of event time",
                registry=r,
            ),
            tracked_entities=Gauge(
                "hydrawatch_tracked_entities",
                "Entities held in memory by kind (accounts, pivots, solo indicator values)",
                ["kind"],
                registry=r,
            ),
            events_duplicate=Counter(
                "hydrawatch_events_duplicate",
                "Valid events dropped because their event_id was seen within the dedupe window",
                registry=r,
            ),
            state_evictions=Counter(
                "hydrawatch_state_evictions",
                "Accounts / solo indicators forgotten to stay within the memory caps",
                registry=r,
            ),
            messages_skipped=Counter(
                "hydrawatch_messages_skipped",
                "Re-delivered input messages already included in the restored state",
                registry=r,
            ),
            messages_replayed=Counter(
                "hydrawatch_messages_replayed",
                "Input messages read back between a restored snapshot and the consumer position",
                registry=r,
            ),
            input_position=Gauge(
                "hydrawatch_input_position",
                "Next input offset not yet applied to the state, per input partition",
                ["partition"],
                registry=r,
            ),
            last_batch_timestamp=Gauge(
                "hydrawatch_last_batch_timestamp_seconds",
                "Wall time of the last processed batch (a broker outage shows as it ageing)",
                registry=r,
            ),
            checkpoints_written=Counter(
                "hydrawatch_checkpoints_written", "State snapshots written", registry=r
            ),
            checkpoint_failures=Counter(
                "hydrawatch_checkpoint_failures",
                "State snapshots that could not be written (retried at the next interval)",
                registry=r,
            ),
            checkpoint_bytes=Gauge(
                "hydrawatch_checkpoint_bytes", "Compressed size of the last snapshot", registry=r
            ),
            checkpoint_seconds=Histogram(
                "hydrawatch_checkpoint_seconds",
                "Wall time to serialise and write one snapshot",
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            state_restored=Counter(
                "hydrawatch_state_restored",
                "Input partitions whose state was restored from a snapshot",
                registry=r,
            ),
            window_scores=Histogram(
                "hydrawatch_window_score",
                "River anomaly score of every scored entity window",
                ["entity_type"],
                buckets=_SCORE_BUCKETS,
                registry=r,
            ),
            input_lag_messages=Gauge(
                "hydrawatch_input_lag_messages",
                "Consumer lag: partition high-water mark minus the next offset to apply",
                ["partition"],
                registry=r,
            ),
            stage_cpu_seconds=Counter(
                "hydrawatch_stage_cpu_seconds_total",
                "CPU time of the worker thread in a stage's own work "
                "(decode, apply, encode; not the sends), per stage",
                ["stage"],
                registry=r,
            ),
            stage_records=Counter(
                "hydrawatch_stage_records_total",
                "Records a stage applied: events (account), observations (pivot), links (campaign)",
                ["stage"],
                registry=r,
            ),
            internal_bytes=Counter(
                "hydrawatch_internal_bytes_total",
                "Bytes produced to the internal topics",
                ["topic"],
                registry=r,
            ),
            stage_clock_seconds=Gauge(
                "hydrawatch_stage_clock_seconds",
                "A stage's event-time clock (minimum over its upstream partitions)",
                ["stage"],
                registry=r,
            ),
            verdict_records=Counter(
                "hydrawatch_verdict_records",
                "Records read from the verdicts topic, by outcome (put, withdrawn, invalid)",
                ["outcome"],
                registry=r,
            ),
            verdicts_in_force=Gauge(
                "hydrawatch_verdicts_in_force",
                "Verdicts in force now (wall clock), by decision and subject kind",
                ["verdict", "subject_kind"],
                registry=r,
            ),
            verdicts_late=Counter(
                "hydrawatch_verdicts_late",
                "Verdicts that arrived after a stage's event clock had passed their issue time "
                "(they act from the stage's next tick)",
                registry=r,
            ),
            alerts_suppressed=Counter(
                "hydrawatch_alerts_suppressed",
                "Alerts whose action a benign verdict turned into observe, by entity type and "
                "the action they would have had",
                ["entity_type", "action"],
                registry=r,
            ),
            remembered_indicators=Gauge(
                "hydrawatch_remembered_indicators",
                "Indicators remembered from confirmed or critical campaigns, by stage",
                ["stage"],
                registry=r,
            ),
            remembered_member_alerts=Counter(
                "hydrawatch_remembered_member_alerts",
                "Member alerts sent because an account touched a known campaign's remembered "
                "indicators (regrowth caught)",
                registry=r,
            ),
        )
