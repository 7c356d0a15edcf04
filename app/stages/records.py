"""What the keyed stages send each other: compact, batched, idempotent records.

Two internal streams connect the stages (Kafka topics online, lists in-process):

- **observations** (account stage → pivot stage, partitioned by pivot): one
  :class:`PivotInput` per account partition, destination pivot partition and consumed
  batch. It carries the account partition's watermark (sent to *every* pivot partition,
  so partitions without data advance too), the per-pivot observations of the batch and,
  for pivot partition 0 only, the population totals of the 10-minute buckets the
  watermark closed (global baselines are aggregated over every account partition).
- **links** (pivot stage → campaign stage, one partition): one :class:`LinkInput` per
  pivot partition and batch: the linkage ticks it completed, each with the member links
  that qualified or changed (upserts keyed by account and pivot), links and pivots that
  went away, and the pivot partition's clock (every tick up to it has been sent).

Every record names its source partition and the input position it covers, so a stage
that restarts from a checkpoint and re-sends what it already sent is deduplicated
downstream (upserts and maxima are idempotent).

>>> rec = PivotInput(source=1, watermark_ms=5, last_offset=9,
...                  obs=[(4, "subnet:10.0.0.0/24", "a", 3, 7, 9)], totals=[])
>>> decode_pivot_input(encode_pivot_input(rec)) == rec
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Link",
    "LinkInput",
    "Observation",
    "PivotInput",
    "TickLinks",
    "decode_link_input",
    "decode_pivot_input",
    "encode_link_input",
    "encode_pivot_input",
    "partition_for",
]

#: (event time, pivot key, account, packed request values, subnet tag, input offset):
#: event time first, so a plain sort is the order observations are applied in.
Observation = tuple[int, str, str, int, int, int]
#: (account, pivot key, requests, harvest units, mismatch, risky, young, co-located);
#: ``requests == 0`` removes the link.
Link = tuple[str, str, int, int, int, int, int, int]


def partition_for(key: str, partitions: int) -> int:
    """The pivot partition that owns ``key`` (records are sent with explicit partitions).

    >>> partition_for("subnet:203.0.113.0/24", 4)
    1
    """
    return zlib.crc32(key.encode()) % partitions


@dataclass(slots=True)
class PivotInput:
    source: int
    #: the account partition's watermark after this batch (None: no event yet)
    watermark_ms: int | None
    #: highest input offset of the account partition this record covers
    last_offset: int
    obs: list[Observation] = field(default_factory=list)
    #: [bucket start ms, field sums...] of closed 10-minute buckets (pivot partition 0)
    totals: list[list[int]] = field(default_factory=list)


@dataclass(slots=True)
class TickLinks:
    tick_ms: int
    #: a links refresh: the campaign stage rebuilds its graph from this tick's links
    refresh: bool
    links: list[Link] = field(default_factory=list)
    dropped_pivots: list[str] = field(default_factory=list)
    #: population 24 h field sums at the tick (pivot partition 0 only)
    population: list[int] | None = None


@dataclass(slots=True)
class LinkInput:
    source: int
    #: every tick up to this event time has been sent (None: no clock yet)
    clock_ms: int | None
    ticks: list[TickLinks] = field(default_factory=list)


def encode_pivot_input(rec: PivotInput) -> bytes:
    return orjson.dumps([rec.source, rec.watermark_ms, rec.last_offset, rec.obs, rec.totals])


def decode_pivot_input(raw: bytes) -> PivotInput:
    source, wm, last, obs, totals = orjson.loads(raw)
    return PivotInput(source, wm, last, [tuple(o) for o in obs], totals)  # type: ignore[misc]


def encode_link_input(rec: LinkInput) -> bytes:
    ticks: list[Any] = [
        [t.tick_ms, t.refresh, t.links, t.dropped_pivots, t.population] for t in rec.ticks
    ]
    return orjson.dumps([rec.source, rec.clock_ms, ticks])


def decode_link_input(raw: bytes) -> LinkInput:
    source, clock, ticks = orjson.loads(raw)
    return LinkInput(
        source,
        clock,
        [
            TickLinks(t, bool(r), [tuple(x) for x in links], list(dropped), pop)  # type: ignore[misc]
            for t, r, links, dropped, pop in ticks
        ],
    )
