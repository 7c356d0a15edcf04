"""``hydrawatch simulate``: build a scenario's accounts and write or produce its events."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from app.tools.offline import open_output
from app.tools.simulate.campaigns import campaign_accounts
from app.tools.simulate.emit import Simulation, iter_events, write_labels
from app.tools.simulate.population import benign_accounts, hard_negative_accounts
from app.tools.simulate.scenario import Scenario
from app.tools.simulate.world import World

__all__ = ["SimulationSummary", "build", "produce_to_kafka", "write_files"]


@dataclass(slots=True)
class SimulationSummary:
    events: int = 0
    accounts: int = 0
    campaign_accounts: int = 0
    campaign_events: int = 0
    by_group: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def build(scenario: Scenario, *, scale: float) -> Simulation:
    """Every account plan of the scenario at ``scale`` (deterministic for its seed)."""
    w = World.create(scenario, scale)
    plans = benign_accounts(w) + hard_negative_accounts(w)
    for spec in scenario.campaigns:
        plans += campaign_accounts(w, spec)
    return Simulation(plans=plans, seed=scenario.seed)


def _run(
    sim: Simulation, sink: Callable[[dict[str, Any]], None]
) -> tuple[SimulationSummary, dict[str, int]]:
    t0 = time.perf_counter()
    s = SimulationSummary(accounts=len(sim.plans))
    s.campaign_accounts = sum(1 for p in sim.plans if p.campaign_id)
    first: dict[str, int] = {}
    for event, plan, is_campaign in iter_events(sim):
        sink(event)
        s.events += 1
        s.by_group[plan.group] = s.by_group.get(plan.group, 0) + 1
        if is_campaign:
            s.campaign_events += 1
            first.setdefault(plan.account_id, event["ts_ms"])
    s.seconds = time.perf_counter() - t0
    return s, first


def write_files(sim: Simulation, events_path: Path, labels_path: Path) -> SimulationSummary:
    """Events as JSON lines (gzip if the name ends in .gz) and the labels CSV."""
    with open_output(str(events_path)) as fh:
        buf: list[bytes] = []

        def sink(event: dict[str, Any]) -> None:
            buf.append(orjson.dumps(event))
            if len(buf) >= 10_000:
                fh.write(b"\n".join(buf) + b"\n")
                buf.clear()

        summary, first = _run(sim, sink)
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    with labels_path.open("w") as lf:
        write_labels(sim.plans, lf, first)
    return summary


def produce_to_kafka(
    sim: Simulation,
    *,
    bootstrap: str,
    topic: str,
    rate: float,
    partitions: int,
    batch_events: int = 500,
    compression_type: str | None = "lz4",
    client_kwargs: dict[str, Any] | None = None,
) -> SimulationSummary:
    """Produce the events at ``rate`` events/s (0: as fast as possible) as batch
    envelopes, one per partition, partitioned by account.

    Settings measured by ``benchmarks/producer.py`` (docs/performance.md): lz4 is the
    fastest codec for both ends; ``linger_ms``/``batch_size`` barely matter for
    envelopes of hundreds of KB; the ``crc32c`` extension is what makes kafka-python
    fast (its pure-Python checksum fallback runs at ~11 MB/s).
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        compression_type=compression_type,
        max_request_size=8 * 1024 * 1024,
        **(client_kwargs or {}),
    )
    pending: dict[int, list[dict[str, Any]]] = {}
    sent = 0
    t_start = time.monotonic()

    def flush(p: int) -> None:
        nonlocal sent
        chunk = pending.pop(p)
        producer.send(topic, value=orjson.dumps(chunk), partition=p)
        sent += len(chunk)
        if rate > 0:
            ahead = sent / rate - (time.monotonic() - t_start)
            if ahead > 0:
                time.sleep(ahead)

    def sink(event: dict[str, Any]) -> None:
        p = zlib.crc32(event["account_id"].encode()) % partitions
        chunk = pending.setdefault(p, [])
        chunk.append(event)
        if len(chunk) >= batch_events:
            flush(p)

    try:
        summary, _ = _run(sim, sink)
        for p in list(pending):
            flush(p)
        producer.flush(timeout=60)
    finally:
        producer.close()
    return summary
