"""What the keyed stages send each other: compact, batched, idempotent records.

Two internal streams connect the stages (Kafka topics online, lists in-process):

- **observations** (account stage → pivot stage, partitioned by pivot): one
  :class:`PivotInput` per account partition, destination pivot partition and consumed
  batch. It carries the account partition's watermark (sent to *every* pivot partition,
  so partitions without data advance too), the observations of the linkage-tick buckets
  that watermark closed (one per pivot, account and bucket: the account's requests
  there summed, so the stream grows with active accounts, not with requests) and,
  for pivot partition 0 only, the population totals of the 10-minute buckets the
  watermark closed (global baselines are aggregated over every account partition).
- **links** (pivot stage → campaign stage, one partition): one :class:`LinkInput` per
  pivot partition and batch: the linkage ticks it completed, each with the member links
  that qualified or changed (upserts keyed by account and pivot), links and pivots that
  went away, and the pivot partition's clock (every tick up to it has been sent).

Every record names its source partition and the input position it covers, so a stage
that restarts from a checkpoint and re-sends what it already sent is deduplicated
downstream (upserts and maxima are idempotent).

>>> o = [600_000, "subnet:10.0.0.0/24", "a", 599_000, 595_000, 7, 0, 0, 5]
>>> o += [2, 40, 0, 0, 2, 2, 900, 0]
>>> rec = PivotInput(source=1, watermark_ms=600_000, first_seq=9, obs=[o], totals=[])
>>> decode_pivot_input(encode_pivot_input(rec)) == rec
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "HINT",
    "OBS_VALUES",
    "Link",
    "LinkInput",
    "Observation",
    "PivotInput",
    "TickLinks",
    "decode_link_input",
    "decode_link_inputs",
    "decode_pivot_input",
    "decode_pivot_inputs",
    "encode_link_input",
    "encode_link_inputs",
    "encode_pivot_input",
    "encode_pivot_inputs",
    "partition_for",
    "split_link_input",
    "split_pivot_input",
]

#: [bucket end, pivot key, account, first and last event time as ms before the bucket
#: end, subnet tag of the last request, the account's lowest trust level over the
#: requests (:mod:`app.core.alerts.trust`), a tag of its ``org_id`` (0: none), the
#: :func:`~app.core.campaigns.values.card_tag` of the last request's payment method,
#: then the requests' eight summed values]: one
#: account's requests on one pivot within one linkage-tick bucket, one flat list — the
#: same in memory and on the wire (nothing to convert on either side). A record's
#: observations come in bucket order (the tick at a bucket's end applies it).
Observation = list[Any]
#: where the summed values start in an :data:`Observation`
OBS_VALUES = 9
#: (account, pivot key, requests, harvest units, mismatch, risky, young, co-located (1;
#: 2 when the cohort is pool-like: its shared blocks are many, a few members each),
#: trust level of the account's latest observation here, 1 for a candidate link from a
#: cohort with a single evidence family — it counts only in a dense block —, :data:`HINT`
#: for a hint (a harvest-like member without a family of its own on a pivot whose members
#: nearly all are harvest-like: no link, evidence of membership only), the tag of
#: the org its latest traffic here names when that org is long-standing or allowed by
#: a benign verdict, else 0, and the card tag of its latest observation here (0: none —
#: how the campaign stage knows a member's own payment method, however few share it);
#: ``requests == 0`` removes the link.
Link = tuple[str, str, int, int, int, int, int, int, int, int, int, int]
#: The link kind (tenth field) of a hint.
HINT = 2


def partition_for(key: str, partitions: int) -> int:
    """The pivot partition that owns ``key`` (records are sent with explicit partitions).

    >>> partition_for("subnet:203.0.113.0/24", 4)
    0
    """
    return zlib.crc32(key.encode()) % partitions


@dataclass(slots=True)
class PivotInput:
    source: int
    #: the account partition's watermark after this batch (None: no event yet, or a
    #: record that is not the last of its batch)
    watermark_ms: int | None
    #: sequence number of the first observation (each account partition numbers the
    #: observations it sends to each pivot partition: a re-sent one is recognised)
    first_seq: int
    obs: list[Observation] = field(default_factory=list)
    #: [bucket start ms, field sums...] of closed 10-minute buckets (pivot partition 0)
    totals: list[list[int]] = field(default_factory=list)
    #: the account partition is caught up and quiet (:class:`~app.core.stages.clock.UpstreamClock`)
    idle: bool = False


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
    return orjson.dumps(_pivot_row(rec))


def _pivot_row(rec: PivotInput) -> list[Any]:
    return [rec.source, rec.watermark_ms, rec.first_seq, rec.obs, rec.totals, rec.idle]


def _pivot_of(row: list[Any]) -> PivotInput:
    source, wm, first, obs, totals, idle = row
    return PivotInput(source, wm, first, obs, totals, bool(idle))


def decode_pivot_input(raw: bytes) -> PivotInput:
    return _pivot_of(orjson.loads(raw))


def encode_pivot_inputs(recs: list[PivotInput]) -> bytes:
    """Several records in one message (one message per destination partition per batch)."""
    return orjson.dumps([_pivot_row(r) for r in recs])


def decode_pivot_inputs(raw: bytes) -> list[PivotInput]:
    return [_pivot_of(row) for row in orjson.loads(raw)]


def split_pivot_input(rec: PivotInput, *, max_obs: int) -> list[PivotInput]:
    """Chunks of at most ``max_obs`` observations; the watermark rides on the last.

    >>> r = PivotInput(0, 7, 10, [[1, "k", "a", 0, 0, 0, 0, 1]] * 5, [[0, 1]])
    >>> chunks = split_pivot_input(r, max_obs=2)
    >>> [(c.watermark_ms, c.first_seq, len(c.obs), c.totals) for c in chunks]
    [(None, 10, 2, []), (None, 12, 2, []), (7, 14, 1, [[0, 1]])]
    """
    if len(rec.obs) <= max_obs:
        return [rec]
    out = []
    for i in range(0, len(rec.obs), max_obs):
        last = i + max_obs >= len(rec.obs)
        out.append(
            PivotInput(
                rec.source,
                rec.watermark_ms if last else None,
                rec.first_seq + i,
                rec.obs[i : i + max_obs],
                rec.totals if last else [],
            )
        )
    return out


def _link_row(rec: LinkInput) -> list[Any]:
    ticks: list[Any] = [
        [t.tick_ms, t.refresh, t.links, t.dropped_pivots, t.population] for t in rec.ticks
    ]
    return [rec.source, rec.clock_ms, ticks]


def encode_link_input(rec: LinkInput) -> bytes:
    return orjson.dumps(_link_row(rec))


def encode_link_inputs(recs: list[LinkInput]) -> bytes:
    return orjson.dumps([_link_row(r) for r in recs])


def decode_link_inputs(raw: bytes) -> list[LinkInput]:
    return [_link_of(row) for row in orjson.loads(raw)]


def split_link_input(rec: LinkInput, *, max_links: int) -> list[LinkInput]:
    """Chunks of at most ``max_links`` links (a tick may span chunks); the clock on the last.

    >>> t = TickLinks(600, False, [("a", "k", 1, 0, 0, 0, 0, 0, 0)] * 3)
    >>> [(c.clock_ms, [len(x.links) for x in c.ticks])
    ...  for c in split_link_input(LinkInput(0, 900, [t]), max_links=2)]
    [(None, [2]), (900, [1])]
    """
    total = sum(len(t.links) for t in rec.ticks)
    if total <= max_links:
        return [rec]
    out: list[LinkInput] = []
    cur: list[TickLinks] = []
    room = max_links
    for t in rec.ticks:
        links = t.links
        first = True
        while first or links:
            take, links = links[:room], links[room:]
            cur.append(
                TickLinks(
                    t.tick_ms,
                    t.refresh,
                    take,
                    t.dropped_pivots if first else [],
                    t.population if first else None,
                )
            )
            first = False
            room -= len(take)
            if room <= 0:
                out.append(LinkInput(rec.source, None, cur))
                cur, room = [], max_links
    if cur or not out:
        out.append(LinkInput(rec.source, None, cur))
    out[-1].clock_ms = rec.clock_ms
    return out


def decode_link_input(raw: bytes) -> LinkInput:
    return _link_of(orjson.loads(raw))


def _link_of(row: list[Any]) -> LinkInput:
    source, clock, ticks = row
    return LinkInput(
        source,
        clock,
        [
            TickLinks(t, bool(r), [tuple(x) for x in links], list(dropped), pop)  # type: ignore[misc]
            for t, r, links, dropped, pop in ticks
        ],
    )
