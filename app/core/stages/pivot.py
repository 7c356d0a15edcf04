"""The pivot stage: everything keyed by one shared indicator, for one pivot partition.

Input: the account stage's observations for the pivots this partition owns (subnet,
ASN, payment, TLS/UA, template, SimHash band, creation hour), with every account
partition's watermark. An observation is one account's requests on one pivot within
one ``linkage_tick_ms`` bucket, summed. A linkage tick runs at every multiple of
``linkage_tick_ms`` the clock — the minimum over the account partitions' watermarks —
passes, with exactly the buckets that ended by then applied: bucket by bucket, account
partition by account partition, each partition's observations in the order it sent them
(a replayed partition sends the same stream). Output therefore depends on the
observations only, not on the order records arrived in.

At each tick the pivot stage

1. scores each touched pivot's cohort (accounts on it in 24 h) with :class:`Evidence`;
2. qualifies, on suspicious pivots, the members that look like the cohort
   (harvest-like traffic here plus youth, mismatch, risky infrastructure, or a subnet
   shared with another member) and sends each new or changed qualification to the
   campaign stage as a link; links of pivots that stop being suspicious or expire are
   withdrawn;
3. hourly: expires what left the 24 h views and scores every shared entity with its
   kind's River model (subnet/ASN/fingerprint/template alerts, ``observe`` only).

A pivot seen by one account stays a lightweight "solo" entry until a second account
shows up, so memory follows sharing, not traffic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.core.alerts.entity import entity_alert
from app.core.campaigns.evidence import FAMILY_THRESHOLD, Evidence
from app.core.campaigns.pivot_state import (
    R_CARD,
    R_HARVEST,
    R_MISMATCH,
    R_N,
    R_ORG,
    R_RISKY,
    R_SUBNET,
    R_TRUST,
    R_YOUNG,
    PivotState,
    pivot_sums,
)
from app.core.campaigns.values import (
    F_429,
    F_AGE_KNOWN,
    F_COMPLETION,
    F_HARVEST,
    F_MISMATCH,
    F_REQ,
    F_RISKY,
    F_YOUNG,
    LINKING_EXCLUDED,
    PIVOT_KINDS,
    SHARED_BY_STRANGERS,
    pivot_kind,
    pivot_value,
)
from app.core.detectors.account_window import WindowModel
from app.core.events import AlertEvent
from app.core.features.request import HARVEST_UNITS
from app.core.settings import DetectionSettings
from app.core.stages.clock import UpstreamClock
from app.core.stages.records import (
    HINT,
    OBS_VALUES,
    Link,
    LinkInput,
    Observation,
    PivotInput,
    TickLinks,
)
from app.core.verdicts import IndicatorMemory, VerdictBook
from app.core.windows.sliding import DAY_MS, HOUR_MS, TEN_MIN_MS

__all__ = ["ENTITY_FEATURES", "ENTITY_TYPES", "PivotOutput", "PivotStage", "poisson_tail"]

#: Entity River models: pivot kind → AlertEvent entity_type.
ENTITY_TYPES = {
    "subnet": "subnet",
    "asn": "asn",
    "tls": "fingerprint",
    "payment": "fingerprint",
    "template": "fingerprint",
}
ENTITY_FEATURES = (
    "accounts",
    "requests_1h",
    "requests_24h",
    "requests_per_account",
    "harvest",
    "youth",
    "mismatch",
    "risky_ip",
    "completion_mean",
    "rate_limited",
    "coordination",
)
_ENTITY_LOG = frozenset(
    {"accounts", "requests_1h", "requests_24h", "requests_per_account", "completion_mean"}
)


def poisson_tail(k: int, mean: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(mean)``: how often chance alone reaches ``k``.

    >>> round(poisson_tail(4, 0.1), 7)
    3.8e-06
    >>> poisson_tail(0, 5.0), poisson_tail(3, 0.0)
    (1.0, 0.0)
    >>> round(poisson_tail(30, 30.0), 2)
    0.52
    """
    if k <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    log_mean = math.log(mean)
    if k <= mean:  # at or below the mean (the sum below needs k > mean to converge fast)
        below = sum(math.exp(-mean + i * log_mean - math.lgamma(i + 1)) for i in range(k))
        return max(0.0, 1.0 - below)
    term = math.exp(-mean + k * log_mean - math.lgamma(k + 1))
    total, i = 0.0, k
    while term > 1e-15 * max(total, 1e-300):
        total += term
        i += 1
        term *= mean / i
    return min(1.0, total)


def _member_share(p: PivotState, field: int) -> float:
    """Share of the pivot's tracked members with at least half their requests there
    carrying the signal ``field`` (``R_YOUNG``, ``R_MISMATCH``, ``R_RISKY``)."""
    accounts = p.accounts
    if not accounts:
        return 0.0
    hit = sum(1 for r in accounts.values() if r[field] >= FAMILY_THRESHOLD * r[R_N])
    return hit / len(accounts)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


@dataclass(slots=True)
class PivotOutput:
    """What one call produced: entity alerts, and the links record for the campaign stage."""

    alerts: list[AlertEvent] = field(default_factory=list)
    links: LinkInput | None = None
    applied: int = 0
    #: observations that arrived at or behind the clock (an upstream back from idle)
    late: int = 0
    duplicates: int = 0


class PivotStage:
    """State and ticks of one pivot partition."""

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        partition: int,
        upstream_partitions: int,
        verdicts: VerdictBook | None = None,
    ) -> None:
        self.settings = settings
        self.partition = partition
        #: the verdicts in force (shared by the worker's stages; not part of the state)
        self.verdicts = verdicts if verdicts is not None else VerdictBook()
        #: pivots of critical cohorts (and confirmed indicators): a new account on one is
        #: qualified at its first observation, whatever the cohort looks like now
        self.remembered = IndicatorMemory(
            ttl_ms=settings.indicator_memory_ttl_ms,
            max_per_campaign=1,
            max_entries=settings.indicator_memory_max_entries,
        )
        self.clock = UpstreamClock(upstream_partitions)
        self.pivots: dict[str, PivotState] = {}
        #: Pivots created since the last tick: at the tick they move to the end of
        #: :attr:`pivots` in key order, so the dict's order (what the entity models learn
        #: from, which pivot goes first when full, the order of a full tick's links) is
        #: the events' and not the order the account partitions' observations interleave
        #: in — the same with 1 or 4 account partitions.
        self._created: list[str] = []
        #: Indicators seen with one account so far: its latest observation there.
        self._solo: dict[str, Observation] = {}
        #: How many of :attr:`_solo` are ``subnet:`` entries (blocks one account uses).
        self._solo_subnets = 0
        #: Within the bucket being applied: a solo indicator's previous observation (an
        #: earlier bucket's) that its account's observation of this bucket replaced. A
        #: second account in the same bucket is promoted with both, whichever of the two
        #: was applied first — so the new pivot's sums do not depend on how the account
        #: partitions' observations interleave within the bucket. Empty between buckets.
        self._solo_prev: dict[str, Observation] = {}
        self._solo_bucket: int | None = None
        #: Observations received and not applied yet (at or after the clock): bucket end →
        #: account partition → its observations there in the order it sent them. Applied
        #: per bucket, account partition and sequence: an order that depends on the
        #: events alone (each account partition's stream is replayed identically),
        #: whatever order the records arrived in — and no sort.
        self._pending: dict[int, dict[int, list[Observation]]] = {}
        #: Per account partition, the next observation sequence number expected.
        self._received: dict[int, int] = {}
        #: Per account partition, the newest population bucket received, and the
        #: population rows ([bucket start, sums...]) not added yet.
        self._totals_seen: dict[int, int] = {}
        self._pending_totals: list[list[int]] = []
        #: Event time of everything applied so far, and of the last tick run.
        self.applied_ms: int | None = None
        self.last_tick_ms: int | None = None
        self._last_full_ms: int | None = None
        self._touched: set[str] = set()
        self._memo: dict[str, tuple[int, Evidence | None]] = {}
        #: pivot → (its version, share of members harvest-like there), for hints
        self._purity: dict[str, tuple[int, float]] = {}
        self.population = pivot_sums()
        self.evicted = 0
        self.entity_models = {
            kind: WindowModel(
                settings,
                name=f"{kind}_window_hst",
                features=ENTITY_FEATURES,
                log_features=_ENTITY_LOG,
            )
            for kind in ENTITY_TYPES
        }
        self._entity_last: dict[str, int] = {}  # one observe-level alert a day per entity
        #: evicted pivots that had links out (withdrawn with the next tick)
        self._evicted_linked: list[str] = []
        #: How often two of the population's accounts share an address block by chance
        #: (pairs on blocks of two to ``pool_max_block_members`` over all pairs), from
        #: this partition's share of the blocks, refreshed at every full tick
        #: (:meth:`_stranger_rate`): what the ``pool`` family must exceed.
        self.stranger_rate = 0.0

    # ---- input ------------------------------------------------------------------------
    def receive(self, rec: PivotInput) -> int:
        """Buffer one record from an account partition; returns duplicates dropped."""
        expected = self._received.get(rec.source, 0)
        dups = 0
        if rec.obs:
            dups = min(len(rec.obs), max(0, expected - rec.first_seq))
            pending = self._pending
            source = rec.source
            at = -1
            run: list[Observation] = []
            for o in rec.obs[dups:] if dups else rec.obs:
                if o[0] != at:  # a record's observations come in bucket order
                    at = o[0]
                    run = pending.setdefault(at, {}).setdefault(source, [])
                run.append(o)
            end = rec.first_seq + len(rec.obs)
            if end > expected:
                self._received[rec.source] = end
        if rec.totals:
            last = self._totals_seen.get(rec.source, -(2**62))
            for row in rec.totals:
                if row[0] > last:
                    self._pending_totals.append(row)
                    last = row[0]
            self._totals_seen[rec.source] = last
        if rec.idle:
            self.clock.mark_idle(rec.source)
        else:
            self.clock.update(rec.source, rec.watermark_ms)
        return dups

    def advance(self, *, emitted_ms: int) -> PivotOutput:
        """Apply what the clock has passed, run the ticks it crossed; the links record."""
        out = PivotOutput()
        now = self.clock.now_ms
        if now is None:
            return out
        if self.applied_ms is not None and now <= self.applied_ms:
            out.links = LinkInput(self.partition, self.applied_ms, [])
            return out
        pending = self._pending
        ready: list[Observation] = []
        for end in sorted(e for e in pending if e <= now):
            by_source = pending.pop(end)
            if self.applied_ms is not None and end <= self.applied_ms:
                out.late += sum(len(run) for run in by_source.values())
                continue
            for source in sorted(by_source):
                ready += by_source[source]
        tick_ms = self.settings.linkage_tick_ms
        ticks: list[TickLinks] = []
        i = 0
        n = len(ready)
        if self.last_tick_ms is None and ready:
            first = ready[0][0]
            self.last_tick_ms = first - first % tick_ms - (tick_ms if first % tick_ms == 0 else 0)
        while self.last_tick_ms is not None and self.last_tick_ms + tick_ms <= now:
            t = self.last_tick_ms + tick_ms
            while i < n and ready[i][0] <= t:
                self._apply(ready[i])
                i += 1
            self._add_population(t)
            ticks.append(self._tick(t, out, emitted_ms))
            self.last_tick_ms = t
        while i < n:
            self._apply(ready[i])
            i += 1
        out.applied = n
        self.applied_ms = now
        out.links = LinkInput(self.partition, now, ticks)
        return out

    def _add_population(self, until_ms: int) -> None:
        """Add the population buckets that ended by ``until_ms`` (every partition's)."""
        rows = self._pending_totals
        if not rows:
            return
        keep = []
        for row in rows:
            if row[0] + TEN_MIN_MS <= until_ms:
                self.population.add(row[0], row[1:])
            else:
                keep.append(row)
        self._pending_totals = keep

    def _apply(self, o: Observation) -> None:
        end = o[0]
        key = o[1]
        account = o[2]
        first = end - o[3]
        last = end - o[4]
        tag = o[5]
        trust = o[6]
        org = o[7]
        card = o[8]
        values = o[OBS_VALUES:]
        p = self.pivots.get(key)
        if p is not None:
            p.add(account, first, last, values, tag, trust, org, card)
            self._touched.add(key)
            return
        if end != self._solo_bucket:
            self._solo_bucket = end
            if self._solo_prev:
                self._solo_prev = {}
        solo = self._solo.get(key)
        if solo is None and self._remembered(key, end):
            if len(self.pivots) >= self.settings.max_pivots:
                self._evict_pivot()
            p = self.pivots[key] = PivotState()
            self._created.append(key)
            p.add(account, first, last, values, tag, trust, org, card)
            self._touched.add(key)
            return
        # stale against the bucket (not this observation's first request): every
        # observation of the bucket judges the solo entry alike, whatever their order
        cutoff = end - DAY_MS
        if solo is None or solo[0] - solo[4] < cutoff:
            if solo is not None:  # re-inserted: the dict stays in order of arrival
                del self._solo[key]
            else:
                if len(self._solo) >= self.settings.max_solo_indicators:
                    oldest = next(iter(self._solo))
                    del self._solo[oldest]
                    self._solo_subnets -= oldest.startswith("subnet:")
                    self.evicted += 1
                self._solo_subnets += key.startswith("subnet:")
            self._solo[key] = o
        elif solo[2] != account:
            if len(self.pivots) >= self.settings.max_pivots:
                self._evict_pivot()
            p = self.pivots[key] = PivotState()
            self._created.append(key)
            self._touched.add(key)
            del self._solo[key]
            self._solo_subnets -= key.startswith("subnet:")
            prev = self._solo_prev.pop(key, None) if solo[0] == end else None
            for s_o in (solo,) if prev is None else (prev, solo):
                p.add(
                    s_o[2],
                    s_o[0] - s_o[3],
                    s_o[0] - s_o[4],
                    s_o[OBS_VALUES:],
                    s_o[5],
                    s_o[6],
                    s_o[7],
                    s_o[8],
                )
            p.add(account, first, last, values, tag, trust, org, card)
        else:
            if solo[0] < end:  # kept for this bucket: see _solo_prev
                self._solo_prev[key] = solo
            del self._solo[key]
            self._solo[key] = o

    def _evict_pivot(self) -> None:
        """Make room for a new pivot: the oldest goes (its links with the next tick)."""
        key = next(iter(self.pivots))
        if self.pivots.pop(key).linked:
            self._evicted_linked.append(key)
        self.evicted += 1

    def _remembered(self, key: str, now_ms: int) -> bool:
        if self.remembered.campaign_of(key, at_ms=now_ms) is not None:
            return True
        kind = pivot_kind(key)
        return self.verdicts.has("confirmed", kind) and (
            self.verdicts.confirmed(kind, pivot_value(key), at_ms=now_ms) is not None
        )

    # ---- evidence -----------------------------------------------------------------------
    def _member_ok(self, key: str, p: PivotState, account: str) -> bool:
        """Does this account's traffic *on the pivot* look like the cohort's? Harvest-like,
        with a family of its own — not the one the pivot implies: every member of a
        creation-hour pivot is young, so there youth says nothing about the member (a
        subnet pivot, by contrast, is the member's shared address itself)."""
        rec = p.accounts[account]
        n = rec[R_N]
        if rec[R_HARVEST] / (HARVEST_UNITS * n) < self.settings.member_min_harvest:
            return False
        return (
            (rec[R_YOUNG] / n >= FAMILY_THRESHOLD and not key.startswith("created:"))
            or rec[R_MISMATCH] / n >= FAMILY_THRESHOLD
            or rec[R_RISKY] / n >= FAMILY_THRESHOLD
            or key.startswith("subnet:")
            or p.co_located(account)
        )

    def _hint_ok(self, key: str, p: PivotState, account: str) -> bool:
        """A hint for a member that failed the gate: its traffic here is harvest-like, the
        pivot is not of a kind strangers share (ASN, creation hour), and nearly all of the
        pivot's members are harvest-like here too (a popular tool's users are not; a
        dispatcher's accounts are)."""
        if pivot_kind(key) in SHARED_BY_STRANGERS:
            return False
        rec = p.accounts[account]
        gate = self.settings.member_min_harvest
        if rec[R_HARVEST] / (HARVEST_UNITS * rec[R_N]) < gate:
            return False
        memo = self._purity.get(key)
        if memo is None or memo[0] != p.version:
            units = HARVEST_UNITS * gate
            pure = sum(1 for r in p.accounts.values() if r[R_HARVEST] >= units * r[R_N])
            memo = self._purity[key] = (p.version, pure / len(p.accounts))
        return memo[1] >= self.settings.hint_min_purity

    def cohort_evidence(self, key: str, p: PivotState, now_ms: int) -> Evidence | None:
        v = p.sums.view(now_ms=now_ms)
        req = v[F_REQ]
        harvest = _ratio(v[F_HARVEST], HARVEST_UNITS * req)
        if harvest < self.settings.min_harvest:
            return None
        youth = _ratio(v[F_YOUNG], v[F_AGE_KNOWN])
        mismatch = _ratio(v[F_MISMATCH], req)
        risky = _ratio(v[F_RISKY], req)
        # a share of requests is also a share of members: one heavy young (or travelling,
        # or cloud-hosted) member does not give a cohort of colleagues the family
        if youth >= FAMILY_THRESHOLD:
            youth = min(youth, _member_share(p, R_YOUNG))
        if mismatch >= FAMILY_THRESHOLD:
            mismatch = min(mismatch, _member_share(p, R_MISMATCH))
        if risky >= FAMILY_THRESHOLD:
            risky = min(risky, _member_share(p, R_RISKY))
        ev = Evidence(
            accounts=p.independent_accounts,
            harvest=harvest,
            youth=youth,
            mismatch=mismatch,
            infrastructure=1.0 if key.startswith("subnet:") else risky,
            coordination=p.moments.homogeneity(),
        )
        if ev.families >= 2 or ev.infrastructure >= FAMILY_THRESHOLD:
            return ev
        # Only when it could decide: the share of members sharing a subnet with another,
        # and over how many blocks that sharing is spread (a proxy pool, not one site).
        shared = sum(1 for a in p.accounts if p.co_located(a))
        return Evidence(
            accounts=ev.accounts,
            harvest=ev.harvest,
            youth=ev.youth,
            mismatch=ev.mismatch,
            infrastructure=max(ev.infrastructure, _ratio(shared, len(p.accounts))),
            coordination=ev.coordination,
            pool=0.0 if key.startswith("subnet:") else self._pool(p),
        )

    def _pool(self, p: PivotState) -> float:
        """The proxy-pool family of a cohort: how many /24s each carry two to
        ``pool_max_block_members`` of its members, 0.5 at ``pool_min_blocks`` — when
        that many are beyond chance and beyond what sites give.

        Accounts spread over one operator's proxy pool collide on many blocks, a few on
        each — as ``n`` draws from ``m`` blocks do, about ``n² / 2m`` times: the
        collisions per member grow with the cohort. Independent customers collide where
        an ISP gives strangers one block (about ``C(n, 2)`` times the population's
        :attr:`stranger_rate`: the count must be one chance reaches with probability at
        most ``pool_chance_p``) and where they sit together (households, small offices:
        a share of the members that does not grow with the cohort; the collisions must
        reach ``pool_min_block_share`` per member).
        """
        st = self.settings
        top = st.pool_max_block_members
        blocks = sum(1 for k in p.subnets.values() if 2 <= k <= top)
        n = len(p.accounts)
        if blocks < st.pool_min_block_share * n:
            return 0.0
        if poisson_tail(blocks, self.stranger_rate * n * (n - 1) / 2) > st.pool_chance_p:
            return 0.0
        return min(1.0, blocks / (2 * st.pool_min_blocks))

    def _stranger_rate(self) -> float:
        """:attr:`stranger_rate` from this partition's blocks: subnet pivots are spread
        over the ``pivot_partitions`` partitions by key, so each holds about ``1 / Q`` of
        the population's block members and of their pairs on small blocks, and the
        population's rate ``Q·pairs / C(Q·members, 2)`` is about ``2·pairs / (Q·members²)``.
        Blocks one account uses are the partition's solo ``subnet:`` entries."""
        top = self.settings.pool_max_block_members
        pairs = members = 0
        for key, p in self.pivots.items():
            if key.startswith("subnet:"):
                c = len(p.accounts)
                members += c
                if 2 <= c <= top:
                    pairs += c * (c - 1) // 2
        members += self._solo_subnets
        if members < 2:
            return 0.0
        return 2 * pairs / (self.settings.pivot_partitions * members * members)

    def _tier(self, ev: Evidence | None) -> int:
        """2: a suspicious cohort (harvest-like, two families); 1: harvest-like with one
        family, whose members' links count only inside a dense block; 0: no links."""
        st = self.settings
        if ev is None:
            return 0
        n, h = st.min_cohort_accounts, st.min_harvest
        if ev.suspicious(min_accounts=n, min_harvest=h):
            return 2
        return (
            1
            if st.dense_links and ev.suspicious(min_accounts=n, min_harvest=h, min_families=1)
            else 0
        )

    @staticmethod
    def _sent(link: Link) -> tuple[int, int, int, int]:
        """What :attr:`PivotState.linked` keeps of a link sent: requests, trust, org, shared."""
        return (link[2], link[8], link[10], link[7])

    def _shared(self, account: str, key: str, p: PivotState) -> int:
        """A link's co-location: 0 no, 1 the member shares its block here (or the pivot is
        a block), 2 it does on a pool-like cohort (the ``pool`` family), on a block with
        at most ``pool_max_block_members`` members."""
        if key.startswith("subnet:"):
            return 1
        rec = p.accounts.get(account)
        k = 0 if rec is None else p.subnets.get(int(rec[R_SUBNET]), 0)
        if k < 2:
            return 0
        # on a pool-like cohort, a pool collision (a block with a few members), not a site
        # the cohort also holds (an office of the tool's users: one block, many members)
        return 2 if p.pool and k <= self.settings.pool_max_block_members else 1

    def _sent_now(self, account: str, key: str, p: PivotState) -> tuple[int, int, int, int]:
        """:meth:`_sent` of the link :meth:`_link` would build now (without building it)."""
        rec = p.accounts[account]
        return (
            int(rec[R_N]),
            int(rec[R_TRUST]),
            int(rec[R_ORG]),
            self._shared(account, key, p),
        )

    def _link(self, account: str, key: str, p: PivotState) -> Link:
        rec = p.accounts[account]
        return (
            account,
            key,
            int(rec[R_N]),
            int(rec[R_HARVEST]),
            int(rec[R_MISMATCH]),
            int(rec[R_RISKY]),
            int(rec[R_YOUNG]),
            self._shared(account, key, p),
            int(rec[R_TRUST]),
            int(p.tier == 1),
            int(rec[R_ORG]),
            int(rec[R_CARD]),
        )

    # ---- ticks ---------------------------------------------------------------------------
    def _tick(self, now: int, out: PivotOutput, emitted_ms: int) -> TickLinks:
        st = self.settings
        if self._created:
            pivots = self.pivots
            for key in sorted(self._created):
                p = pivots.pop(key, None)
                if p is not None:
                    pivots[key] = p
            self._created = []
        refresh = now % st.linkage_refresh_ms == 0
        tick = TickLinks(now, refresh)
        full = refresh or self._last_full_ms is None or now - self._last_full_ms >= HOUR_MS
        if refresh:  # every member is looked at again: what changed goes, what fails is withdrawn
            for p in self.pivots.values():
                p.scanned = False
                p.failed = {}
                p.hinted = set()
        if self._evicted_linked:
            tick.dropped_pivots += self._evicted_linked
            self._evicted_linked = []
        if full:
            self._last_full_ms = now
            self._expire(now, tick)
            self.stranger_rate = self._stranger_rate()
            out.alerts += self._score_entities(now, emitted_ms)
            self._memo.clear()
            self._purity.clear()
        pivots = self.pivots
        todo: Iterable[str]
        if full:
            # all but the pivots nothing can have made linkable: untouched, no links,
            # fewer accounts than a cohort (the view only loses them), not remembered
            touched = self._touched
            min_n = st.min_cohort_accounts
            memory = self.remembered.entries
            confirmed = any(self.verdicts.has("confirmed", k) for k in PIVOT_KINDS)
            todo = [
                k
                for k, p in pivots.items()
                if p.tier
                or len(p.accounts) >= min_n
                or p.overflow is not None
                or k in touched
                or k in memory
                or confirmed
            ]
        else:
            todo = sorted(k for k in self._touched if k in pivots)
        self._touched = set()
        links = tick.links
        book = self.verdicts
        hints = st.member_hints
        for key in todo:
            p = pivots[key]
            changed = p.dirty
            if changed:
                p.dirty = set()
            kind = pivot_kind(key)
            allowed = (
                book.has("benign", kind)
                and book.benign(kind, pivot_value(key), at_ms=now) is not None
            )
            if (
                p.independent_accounts < st.min_cohort_accounts
                or kind in LINKING_EXCLUDED
                or allowed
            ):
                ev = None
            else:
                memo = self._memo.get(key)
                if memo is not None and memo[0] == p.version:
                    ev = memo[1]
                else:
                    ev = self.cohort_evidence(key, p, now)
                    self._memo[key] = (p.version, ev)
            tier = self._tier(ev)
            p.pool = ev is not None and ev.pool >= FAMILY_THRESHOLD
            if (
                tier == 2
                and ev is not None
                and ev.families >= 3
                and kind not in SHARED_BY_STRANGERS
            ):
                self.remembered.remember("", [key], at_ms=now)
            elif (
                not tier
                and kind not in LINKING_EXCLUDED
                and not allowed
                and self._remembered(key, now)
            ):
                tier = 2  # a critical cohort's (or confirmed) indicator: its members link
            if tier != p.tier and (p.linked or p.hinted):  # its links go (re-sent at the new tier)
                tick.dropped_pivots.append(key)
                p.linked = {}
                p.restat = set()
                p.hinted = set()
                p.failed = {}  # its hints are re-sent too
                p.scanned = False
            p.tier = tier
            if not tier:
                p.scanned = False
                continue
            linked = p.linked
            on_pivot = p.accounts
            failed = p.failed
            recheck = not p.scanned and bool(linked)  # a refresh: linked members too
            if p.scanned:  # only members with new traffic here can change
                members = sorted(a for a in changed if a in on_pivot)
            else:
                members = list(on_pivot)
                p.scanned = True
            for a in members:
                sent = linked.get(a)
                if sent is not None:
                    if recheck:  # still a member? then only what changed since it was sent
                        if not self._member_ok(key, p, a):
                            del linked[a]
                            p.restat.discard(a)
                            links.append((a, key, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
                            continue
                        now_sent = self._sent_now(a, key, p)
                        if now_sent != sent:
                            linked[a] = now_sent
                            p.restat.discard(a)
                            links.append(self._link(a, key, p))
                    elif a in changed:  # its traffic here grew: sent with the next full tick
                        rec = on_pivot[a]
                        if int(rec[R_ORG]) != sent[2]:  # an org allowed (or no longer)
                            link = self._link(a, key, p)
                            linked[a] = self._sent(link)
                            links.append(link)
                        else:
                            p.restat.add(a)
                    continue
                rec = on_pivot[a]
                if failed.get(a) == int(rec[R_N]):
                    continue
                if self._member_ok(key, p, a):
                    link = self._link(a, key, p)
                    linked[a] = self._sent(link)
                    failed.pop(a, None)
                    p.hinted.discard(a)
                    links.append(link)
                else:
                    failed[a] = int(rec[R_N])
                    if hints and a not in p.hinted and self._hint_ok(key, p, a):
                        p.hinted.add(a)
                        link = self._link(a, key, p)
                        links.append((*link[:9], HINT, *link[10:]))
        if full:  # linked members' grown traffic, hourly (clusters are re-scored hourly)
            growth = st.link_stats_growth
            for key in sorted(k for k, p in pivots.items() if p.restat):
                p = pivots[key]
                for a in sorted(p.restat):
                    sent = p.linked.get(a)
                    mine = p.accounts.get(a)
                    if sent is None or mine is None:
                        continue
                    n, trust = int(mine[R_N]), int(mine[R_TRUST])
                    # a small growth waits; a record restarted after a day away, or a
                    # changed trust level, goes at once
                    if n < sent[0] or n - sent[0] >= growth * sent[0] or trust != sent[1]:
                        link = self._link(a, key, p)
                        p.linked[a] = self._sent(link)
                        links.append(link)
                p.restat = set()
        if self.partition == 0:
            tick.population = self.population.view(now_ms=now)
        return tick

    def _expire(self, now: int, tick: TickLinks) -> None:
        cutoff = now - DAY_MS
        tick_ms = self.settings.linkage_tick_ms
        for key in [k for k, p in self.pivots.items() if p.last_ts < cutoff]:
            if self.pivots.pop(key).linked:
                tick.dropped_pivots.append(key)
        for key, p in self.pivots.items():
            for a in p.expire(now, bucket_ms=tick_ms):
                p.hinted.discard(a)
                if a in p.linked:
                    del p.linked[a]
                    tick.links.append((a, key, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        # in order of arrival (nondecreasing tick end): the stale ones lead. One left
        # behind a fresher one (same tick) goes next hour; a stale entry is replaced on
        # its next observation anyway, so when it goes changes nothing but memory.
        solo = self._solo
        stale = []
        for key, s in solo.items():
            if s[0] - s[4] >= cutoff:
                break
            stale.append(key)
        for key in stale:
            del solo[key]
            self._solo_subnets -= key.startswith("subnet:")
        self.population.expire(now_ms=now)
        self.remembered.expire(now_ms=now)
        self._entity_last = {k: t for k, t in self._entity_last.items() if now - t < DAY_MS}

    def entity_features(self, p: PivotState, now_ms: int) -> dict[str, float]:
        """Window summary of one pivot entity (24 h view, plus its last hour)."""
        v = p.sums.view(now_ms=now_ms)
        req = v[F_REQ]
        n = p.distinct_accounts
        return {
            "accounts": float(n),
            "requests_1h": p.sums.view(now_ms=now_ms, span_ms=HOUR_MS)[F_REQ],
            "requests_24h": req,
            "requests_per_account": _ratio(req, n),
            "harvest": _ratio(v[F_HARVEST], HARVEST_UNITS * req),
            "youth": _ratio(v[F_YOUNG], v[F_AGE_KNOWN]),
            "mismatch": _ratio(v[F_MISMATCH], req),
            "risky_ip": _ratio(v[F_RISKY], req),
            "completion_mean": _ratio(v[F_COMPLETION], req),
            "rate_limited": _ratio(v[F_429], req),
            "coordination": p.moments.homogeneity(),
        }

    def _score_entities(self, now: int, emitted_ms: int) -> list[AlertEvent]:
        """Score every shared entity's window with its kind's River model.

        An anomalous entity whose traffic is harvest-like and shows at least one
        evidence family gets a ``low``/``observe`` entity alert.
        """
        out: list[AlertEvent] = []
        for key, p in self.pivots.items():
            kind = pivot_kind(key)
            model = self.entity_models.get(kind)
            if model is None or len(p.accounts) < 2:
                continue
            f = self.entity_features(p, now)
            verdict = model.score({**f, "requests": f["requests_24h"]})
            if not verdict.anomalous or f["harvest"] < self.settings.min_harvest:
                continue
            if max(f["youth"], f["mismatch"], f["risky_ip"]) < FAMILY_THRESHOLD:
                continue
            if key in self._entity_last:
                continue
            self._entity_last[key] = now
            out.append(
                entity_alert(
                    key=key,
                    entity_type=ENTITY_TYPES[kind],
                    detector=model.name,
                    score=verdict.score,
                    features=f,
                    baseline=verdict.baseline,
                    accounts=len(p.accounts),
                    now_ms=now,
                    emitted_ms=emitted_ms,
                )
            )
        return out

    def sizes(self) -> dict[str, int]:
        return {
            "pivots": len(self.pivots),
            "solo_indicators": len(self._solo),
            "pending_observations": sum(
                len(run) for by_source in self._pending.values() for run in by_source.values()
            ),
        }
