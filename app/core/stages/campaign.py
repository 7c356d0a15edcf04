"""The campaign stage: clusters over qualified links, campaign and member alerts.

Input: every pivot partition's ticks (qualified member links, withdrawn links and
pivots, the population view). A tick ``T`` is handled once every pivot partition's
clock has passed ``T``, with the partitions' records applied in partition order, so
clusters, ids and alerts depend on the links only.

An account joins the graph once it is qualified on pivots of two different kinds (one
shared indicator is no link), or — through candidate links from cohorts with a single
evidence family — once it shares indicators in ``dense_min_dimensions`` independent
dimensions (a dense block); it is joined through each of its pivots to that pivot's
first linked member. A cluster's ``density`` family is the share of its members in
such a block. Each connected component is scored as a whole from its members'
traffic on the pivots that linked them (a hijacked account's own benign traffic does
not dilute what it does on the campaign's infrastructure) and flagged as a campaign.

Why one partition suffices: the stage only sees *qualified* links — accounts that
already passed a suspicious cohort's member gate — and their changes per tick, not
traffic. Its input grows with the number of campaign members (tens of thousands at the
published scale), not with the request rate. Past one partition, clusters would have
to be split by a graph partitioner and merged again; not needed at these volumes.

Links decay: every ``linkage_refresh_ms`` the pivot stage looks at every member again
(withdrawing the links that no longer qualify, re-sending those whose stats changed)
and the graph is rebuilt from the links in force.

Trust: each link carries the trust level of the member's latest traffic on its pivot
(:mod:`app.core.alerts.trust`); a member's level is the lowest over its links, and its member
alert's severity and action are adjusted for it (a long-standing org account gets
``verify`` at most). A member is alerted again if its level drops.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

from app.core.alerts.campaign import (
    CAMPAIGN_ACTIONS,
    SEVERITY_RANK,
    campaign_alert,
    severity_of_cluster,
)
from app.core.alerts.trust import TRUST_NONE, with_trust
from app.core.campaigns.evidence import FAMILY_THRESHOLD, Evidence, homogeneity
from app.core.campaigns.unionfind import UnionFind
from app.core.campaigns.values import (
    DIMENSION_OF_KIND,
    F_AGE_KNOWN,
    F_HARVEST,
    F_MISMATCH,
    F_REQ,
    F_RISKY,
    F_YOUNG,
    SHARED_BY_STRANGERS,
    org_tag,
    pivot_kind,
    pivot_value,
)
from app.core.events import AlertEvent, Reason
from app.core.features.request import HARVEST_UNITS
from app.core.settings import DetectionSettings
from app.core.stages.clock import UpstreamClock
from app.core.stages.records import HINT, LinkInput, TickLinks
from app.core.verdicts import IndicatorMemory, Verdict, VerdictBook, suppressed
from app.core.windows.sliding import DAY_MS, HOUR_MS

__all__ = ["DETECTOR_NAME", "CampaignOutput", "CampaignStage"]

DETECTOR_NAME = "campaign_linkage"
#: a link's requests, harvest units, mismatch, risky, young, co-located (0, 1, or 2 on a
#: pool-like cohort), trust level, kind (1: a candidate, from a single-family cohort)
#: and card tag
_Stats = tuple[int, int, int, int, int, int, int, int, int]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


@dataclass(slots=True)
class _Campaign:
    first_ms: int
    severity: str
    alerted_size: int
    last_alert_ms: int
    #: its last campaign alert was suppressed by a benign verdict
    allowed: bool = False
    #: when its indicators were last remembered (confirmed or critical)
    remembered_ms: int | None = None


#: Pivot kinds never remembered: an ASN or a creation hour is shared by strangers.
#: A member's links summed: requests, harvest, mismatch, risky, young; its busiest
#: link's requests (-1: to be found again); how many are co-located; how many carry
#: each trust level (0-3); how many are co-located on a pool-like cohort. Updated in
#: place as links come and go.
_Summary = list[int]
S_BUSIEST = 5
S_COLO = 6
S_TRUST = 7
S_POOL = 11
_SUMMARY_LEN = 12


def _sum(s: _Summary, stats: _Stats) -> None:
    s[0] += stats[0]
    s[1] += stats[1]
    s[2] += stats[2]
    s[3] += stats[3]
    s[4] += stats[4]
    if 0 <= s[S_BUSIEST] < stats[0]:
        s[S_BUSIEST] = stats[0]
    s[S_COLO] += stats[5] > 0
    s[S_TRUST + stats[6]] += 1
    s[S_POOL] += stats[5] == 2


def _unsum(s: _Summary | None, stats: _Stats) -> None:
    if s is None:
        return
    s[0] -= stats[0]
    s[1] -= stats[1]
    s[2] -= stats[2]
    s[3] -= stats[3]
    s[4] -= stats[4]
    if stats[0] >= s[S_BUSIEST]:
        s[S_BUSIEST] = -1
    s[S_COLO] -= stats[5] > 0
    s[S_TRUST + stats[6]] -= 1
    s[S_POOL] -= stats[5] == 2


@dataclass(slots=True)
class CampaignOutput:
    alerts: list[AlertEvent] = field(default_factory=list)
    ticks: int = 0
    #: the stage's clock after this call (every tick up to it handled)
    clock_ms: int | None = None


class CampaignStage:
    """Link graph, cluster scoring and the campaign registry (one partition)."""

    name = DETECTOR_NAME

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        upstream_partitions: int,
        verdicts: VerdictBook | None = None,
    ) -> None:
        self.settings = settings
        #: the verdicts in force (shared by the worker's stages; not part of the state)
        self.verdicts = verdicts if verdicts is not None else VerdictBook()
        #: indicators of confirmed and critical campaigns → their campaign id
        self.memory: IndicatorMemory[str] = IndicatorMemory(
            ttl_ms=settings.indicator_memory_ttl_ms,
            max_per_campaign=settings.indicator_memory_per_campaign,
            max_entries=settings.indicator_memory_max_entries,
        )
        #: payment methods of confirmed and critical campaigns' members (their card tags)
        #: → the campaign id (``member_cards``)
        self.cards: IndicatorMemory[int] = IndicatorMemory(
            ttl_ms=settings.indicator_memory_ttl_ms,
            max_per_campaign=settings.card_memory_per_campaign,
            max_entries=settings.card_memory_max_entries,
        )
        self.cards.fresh = set()
        #: account → card tag → how many of its links carry it (the cards its links
        #: name, kept as links come and go: no walk over an account's links per lookup)
        self._link_cards: dict[str, dict[int, int]] = {}
        #: account → tag of its org, for accounts whose links carry one (an aged org's,
        #: or one a benign verdict allows)
        self._org_of: dict[str, int] = {}
        #: (book, its version, tick) → the benign org verdicts in force then, by org tag
        self._org_cache: tuple[tuple[int, int, int], dict[int, Verdict]] | None = None
        #: member alerts sent through remembered indicators (a count)
        self.remembered_members = 0
        #: account → pivot → (tick it was last hinted, requests, trust level, card): hints
        #: from pivots whose members nearly all are harvest-like (no links), and
        #: pivot → the accounts hinted on it; accounts hinted since the last tick
        self._hints: dict[str, dict[str, tuple[int, int, int, int]]] = {}
        self._hinted_on: dict[str, set[str]] = {}
        self._hint_changed: set[str] = set()
        #: member alerts sent through hints (a count)
        self.hinted_members = 0
        self.clock = UpstreamClock(upstream_partitions)
        #: tick → source pivot partition → its records for that tick (arrival order)
        self._pending: dict[int, dict[int, list[TickLinks]]] = {}
        self.done_ms: int | None = None
        #: account → pivot → link stats
        self.links: dict[str, dict[str, _Stats]] = {}
        #: pivot → accounts linked on it
        self.by_pivot: dict[str, set[str]] = {}
        self._uf = UnionFind()
        #: union-find root → its members, sorted; and those lists ordered by first member
        self._sorted: dict[str, list[str]] = {}
        self._groups: list[list[str]] | None = None
        #: a group's first member → (its size, the tick it must be looked at again by,
        #: its campaign id, that campaign's state) when it was last evaluated: a group
        #: none of whose members was touched since is skipped until then
        self._evals: dict[str, tuple[int, int, str | None, tuple[object, ...] | None]] = {}
        #: accounts whose links or alert state changed since the last tick
        self._touched: set[str] = set()
        #: account → its links summed (:meth:`_summary`), until they change
        self._summaries: dict[str, _Summary] = {}
        #: campaign id → (what applied to all its members, the members) at its last look
        self._checked: dict[str, tuple[tuple[object, ...], set[str]]] = {}
        #: accounts touched before this tick (what a campaign's last look may not have seen)
        self._tick_touched: set[str] = set()
        #: the verdict book's version at the last tick, and that tick
        self._eval_version: tuple[int, int] | None = None
        self._eval_tick: int | None = None
        #: the graph is rebuilt: every linked account joins it again at the next tick
        self._rejoin = False
        self._anchor: dict[str, str] = {}
        self._joined: dict[str, set[str]] = {}
        self._memo: dict[str, tuple[int, int, Evidence]] = {}
        self._in_cluster: dict[str, tuple[str, int]] = {}
        self.population: list[int] | None = None
        self.campaigns: dict[str, _Campaign] = {}
        #: account → (campaign_id, cluster severity, trust level) of its last member alert
        self.alerted: dict[str, tuple[str, str, int]] = {}
        #: account → campaign_id it was last seen in (votes for continuity)
        self.member_of: dict[str, str] = {}
        #: account → the last tick a link of it arrived (campaign memory expires 2 days
        #: after an account's last link)
        self._last_link_ms: dict[str, int] = {}
        self._last_sweep_ms = 0
        #: accounts whose links changed since the last tick (only they can join the graph)
        self._changed: set[str] = set()
        self.memory.fresh = set()
        #: account → pivot kind → [its links of that kind, of them not candidates] (an
        #: account is in the graph while it has links of two kinds, or candidate links in
        #: ``dense_min_dimensions`` dimensions)
        self._kinds: dict[str, dict[str, list[int]]] = {}

    # ---- input ------------------------------------------------------------------------
    def receive(self, rec: LinkInput) -> None:
        for t in rec.ticks:
            if self.done_ms is not None and t.tick_ms <= self.done_ms:
                continue  # re-sent after the pivot stage restarted: already applied
            by_source = self._pending.setdefault(t.tick_ms, {})
            got = by_source.setdefault(rec.source, [])
            got.append(t)
        self.clock.update(rec.source, rec.clock_ms)

    def advance(self, *, emitted_ms: int) -> CampaignOutput:
        out = CampaignOutput()
        now = self.clock.now_ms
        out.clock_ms = now
        if now is None:
            return out
        for t in sorted(k for k in self._pending if k <= now):
            by_source = self._pending.pop(t)
            refresh = any(r.refresh for recs in by_source.values() for r in recs)
            for source in sorted(by_source):
                for r in by_source[source]:
                    self._apply(r)
            if refresh:
                self._rebuild()
            out.alerts += self._tick(t, emitted_ms)
            out.ticks += 1
            self.done_ms = t
        return out

    def _rebuild(self) -> None:
        """A links refresh: the graph again from the links in force (a union-find only
        grows; links withdrawn since the last refresh stop joining clusters here)."""
        self._uf = UnionFind()
        self._sorted = {}
        self._groups = None
        self._evals = {}
        self._anchor = {}
        self._joined = {}
        self._memo = {}
        self._rejoin = True

    def _kind_added(self, account: str, key: str, weak: int) -> None:
        kinds = self._kinds.setdefault(account, {})
        kind = pivot_kind(key)
        n = kinds.get(kind)
        if n is None:
            n = kinds[kind] = [0, 0]
        n[0] += 1
        n[1] += not weak

    def _kind_dropped(self, account: str, key: str, weak: int) -> None:
        kinds = self._kinds[account]
        kind = pivot_kind(key)
        n = kinds[kind]
        n[0] -= 1
        n[1] -= not weak
        if not n[0]:
            del kinds[kind]
            if not kinds:
                del self._kinds[account]

    def _unhint(self, account: str, key: str) -> None:
        """Forget one hint, in both indexes."""
        mine = self._hints.get(account)
        if mine is not None and mine.pop(key, None) is not None and not mine:
            del self._hints[account]
        on = self._hinted_on.get(key)
        if on is not None:
            on.discard(account)
            if not on:
                del self._hinted_on[key]

    def _dimensions(self, account: str) -> int:
        """Independent indicator dimensions the account is linked on."""
        kinds = self._kinds.get(account)
        return len({DIMENSION_OF_KIND.get(k, k) for k in kinds}) if kinds else 0

    def _multi_kind(self, account: str) -> bool:
        kinds = self._kinds.get(account)
        if kinds is None or len(kinds) < 2:
            return False
        strong = 0
        for kind, n in kinds.items():  # two kinds with links that are not candidates
            if n[1] and (kind != "simhash" or self._simhash_counts(account)):
                if strong:
                    return True
                strong = 1
        st = self.settings
        return st.dense_links and self._dimensions(account) >= st.dense_min_dimensions

    def _simhash_counts(self, account: str) -> bool:
        """Has the member a SimHash link that is no chance match: more than one request
        on the band value, or a fair share of what it sends (``simhash_min_link_share`` of
        its busiest link)? One near-duplicate among thousands of requests is chance."""
        links = self.links[account]
        busiest = self._summary(account)[S_BUSIEST]
        share = self.settings.simhash_min_link_share
        return any(
            not stats[7] and (stats[0] >= 2 or stats[0] >= share * busiest)
            for key, stats in links.items()
            if key.startswith("simhash:")
        )

    def _card(self, account: str, card: int) -> None:
        on = self._link_cards.setdefault(account, {})
        on[card] = on.get(card, 0) + 1

    def _uncard(self, account: str, card: int) -> None:
        on = self._link_cards[account]
        left = on[card] - 1
        if left:
            on[card] = left
        else:
            del on[card]
            if not on:
                del self._link_cards[account]

    def _apply(self, r: TickLinks) -> None:
        links = self.links
        by_pivot = self.by_pivot
        touched = self._touched
        summaries = self._summaries
        for key in r.dropped_pivots:
            for a in sorted(self._hinted_on.get(key, ())):
                self._unhint(a, key)
            for a in by_pivot.pop(key, ()):
                touched.add(a)
                mine = links.get(a)
                gone = None if mine is None else mine.pop(key, None)
                if gone is not None:
                    self._kind_dropped(a, key, gone[7])
                    if gone[8]:
                        self._uncard(a, gone[8])
                    if not mine:
                        del links[a]
                        summaries.pop(a, None)
                    else:
                        _unsum(summaries.get(a), gone)
        org_of = self._org_of
        hints = self._hints
        for link in r.links:
            account, key, n, harvest, mismatch, risky, young, shared, trust, weak, org = link[:11]
            card = link[11] if len(link) > 11 else 0  # links of an older version: none
            if weak == HINT:
                hints.setdefault(account, {})[key] = (r.tick_ms, n, trust, card)
                self._hinted_on.setdefault(key, set()).add(account)
                self._hint_changed.add(account)
                self._last_link_ms[account] = r.tick_ms
                continue
            mine_hints = hints.get(account)
            if mine_hints is not None and key in mine_hints:  # a link replaces the hint
                self._unhint(account, key)
            touched.add(account)
            if n == 0:
                mine = links.get(account)
                gone = None if mine is None else mine.pop(key, None)
                if gone is not None:
                    by_pivot[key].discard(account)
                    self._kind_dropped(account, key, gone[7])
                    if gone[8]:
                        self._uncard(account, gone[8])
                    if not mine:
                        del links[account]
                        summaries.pop(account, None)
                    else:
                        _unsum(summaries.get(account), gone)
                continue
            mine = links.get(account)
            if mine is None:
                mine = links[account] = {}
            old = mine.get(key)
            if old is None:
                self._changed.add(account)
                self._kind_added(account, key, weak)
            elif old[7] != weak:
                self._changed.add(account)
                self._kind_dropped(account, key, old[7])
                self._kind_added(account, key, weak)
            stats = mine[key] = (n, harvest, mismatch, risky, young, shared, trust, weak, card)
            if old is None or old[8] != card:
                if old is not None and old[8]:
                    self._uncard(account, old[8])
                if card:
                    self._card(account, card)
            summary = summaries.get(account)
            if summary is not None:
                if old is not None:
                    _unsum(summary, old)
                _sum(summary, stats)
            if org:  # the newest link says which org (if any) the account's traffic names
                org_of[account] = org
            elif account in org_of:
                del org_of[account]
            by_pivot.setdefault(key, set()).add(account)
            self._last_link_ms[account] = r.tick_ms
        if r.population is not None:
            self.population = r.population

    # ---- clusters ---------------------------------------------------------------------
    def _summary(self, account: str) -> _Summary:
        """The member's links summed (kept up to date as its links change)."""
        got = self._summaries.get(account)
        if got is None:
            got = self._summaries[account] = [0] * _SUMMARY_LEN
            for stats in self.links[account].values():
                _sum(got, stats)
        if got[S_BUSIEST] < 0:  # its busiest link went or shrank
            got[S_BUSIEST] = max(v[0] for v in self.links[account].values())
        return got

    def linked_evidence(self, members: list[str]) -> Evidence:
        """Cluster evidence from the members' traffic on the pivots that linked them."""
        req = harvest = mismatch = risky = young = 0
        counts: list[float] = []
        shared = 0
        dense = 0
        pooled = 0
        summary = self._summary
        min_dims = self.settings.dense_min_dimensions
        dense_on = self.settings.dense_links
        young_members = mismatched_members = risky_members = 0
        for a in members:
            s = summary(a)
            n, h, m, r, y, busiest, colo = s[:7]
            pooled += s[S_POOL] > 0
            req += n
            harvest += h
            mismatch += m
            risky += r
            young += y
            young_members += y >= FAMILY_THRESHOLD * n
            mismatched_members += m >= FAMILY_THRESHOLD * n
            risky_members += r >= FAMILY_THRESHOLD * n
            counts.append(busiest)
            shared += colo > 0
            dense += dense_on and self._dimensions(a) >= min_dims
        k = len(members)
        # shares of requests and of members alike (one heavy member moves the first only)
        return Evidence(
            accounts=k,
            harvest=_ratio(harvest, HARVEST_UNITS * req),
            youth=min(_ratio(young, req), _ratio(young_members, k)),
            mismatch=min(_ratio(mismatch, req), _ratio(mismatched_members, k)),
            infrastructure=max(
                _ratio(shared, k), min(_ratio(risky, req), _ratio(risky_members, k))
            ),
            coordination=homogeneity(counts),
            density=_ratio(dense, k),
            pool=_ratio(pooled, k),
        )

    def member_trust(self, account: str) -> int:
        """The member's trust level: the lowest over the links it has."""
        if account not in self.links:
            return TRUST_NONE
        got = self._summary(account)
        for level in range(4):
            if got[S_TRUST + level]:
                return level
        return TRUST_NONE

    def _forget(self, now: int) -> None:
        """Accounts with no link for two days leave the campaign memory."""
        cutoff = now - 2 * DAY_MS
        stale = [a for a, t in self._last_link_ms.items() if t < cutoff and a not in self.links]
        self._touched.update(stale)
        for a in stale:
            del self._last_link_ms[a]
            self.alerted.pop(a, None)
            self.member_of.pop(a, None)
            self._org_of.pop(a, None)
        self.memory.expire(now_ms=now)
        self.cards.expire(now_ms=now)
        self.campaigns = {
            c: v for c, v in self.campaigns.items() if v.last_alert_ms >= now - 7 * DAY_MS
        }

    def _tick(self, now: int, emitted_ms: int) -> list[AlertEvent]:
        st = self.settings
        if now - self._last_sweep_ms >= HOUR_MS:
            self._last_sweep_ms = now
            self._forget(now)
        uf = self._uf
        links = self.links
        changed = sorted(a for a in self._changed if a in links)
        self._changed = set()
        joining = sorted(links) if self._rejoin else changed
        self._rejoin = False
        for a in joining:
            mine = links[a]
            if not self._multi_kind(a):
                continue
            joined = self._joined.setdefault(a, set())
            for key in sorted(mine.keys() - joined):  # the new ones, in key order
                joined.add(key)
                anchor = self._anchor.get(key)
                if anchor is None:
                    self._anchor[key] = a
                    uf.add(a)
                else:
                    uf.union(anchor, a)
        grown = uf.take_dirty()
        if grown or self._groups is None:
            groups = self._sorted
            for root in grown:
                groups[str(root)] = sorted(str(a) for a in uf.members(root))
            for root in [r for r in groups if not uf.is_root(r)]:
                del groups[root]
            self._groups = sorted(groups.values(), key=lambda g: g[0])
        book = self.verdicts
        version = (id(book), book.version)
        force = version != self._eval_version or (
            len(book) > 0 and self._eval_tick is not None and book.changes_in(self._eval_tick, now)
        )
        self._eval_version, self._eval_tick = version, now
        touched = self._touched
        self._touched = set()
        self._tick_touched = touched
        if force:
            self._checked = {}
        dirty = {uf.find(a) for a in touched if uf.is_member(a)}
        evals = self._evals
        #: account → (campaign id, severity rank) of the suspicious cluster it is in, for the
        #: clusters looked at in this tick (:meth:`_held`)
        self._in_cluster = {}
        never = 2**62
        alerts: list[AlertEvent] = []
        for group in self._groups:
            if len(group) < st.min_cluster_accounts:
                continue
            first = group[0]
            seen = evals.get(first)
            if (
                seen is not None
                and not force
                and seen[0] == len(group)
                and now < seen[1]
                and seen[3] == self._campaign_state(seen[2])
                and uf.find(first) not in dirty
            ):
                continue  # nothing it depends on changed since it was last looked at
            wake, cid = never, None
            # still linked on two kinds (links withdrawn since the graph was built drop out)
            members = [a for a in group if self._multi_kind(a)]
            if len(members) >= st.min_cluster_accounts:
                cached = self._memo.get(members[0])
                if cached is not None and cached[0] == len(members) and now - cached[1] < HOUR_MS:
                    ev = cached[2]
                else:
                    ev = self.linked_evidence(members)
                    self._memo[members[0]] = (len(members), now, ev)
                    cached = self._memo[members[0]]
                wake = cached[1] + HOUR_MS
                if ev.suspicious(min_accounts=st.min_cluster_accounts, min_harvest=st.min_harvest):
                    cid = self._campaign_id(members, now)
                    alerts += self._emit(members, ev, now, emitted_ms, cid=cid)
                    camp = self.campaigns.get(cid)
                    if camp is not None:
                        wake = min(wake, camp.last_alert_ms + HOUR_MS)
                        if camp.remembered_ms is not None:
                            wake = min(wake, camp.remembered_ms + HOUR_MS)
            if seen is not None and seen[2] is not None and seen[2] != cid:
                # its members' changes since were not looked at under that id
                self._checked.pop(seen[2], None)
            evals[first] = (len(group), wake, cid, self._campaign_state(cid))
        if len(self.memory) or len(self.cards):
            fresh = self.memory.fresh
            fresh_cards = self.cards.fresh
            if force:
                candidates = sorted(links)
            elif fresh or fresh_cards:
                on_fresh = {a for key in fresh or () for a in self.by_pivot.get(key, ())}
                if fresh_cards:
                    on_fresh.update(
                        a for a, on in self._link_cards.items() if not fresh_cards.isdisjoint(on)
                    )
                candidates = sorted(on_fresh.union(changed))
            else:
                candidates = changed
            alerts += self._emit_remembered(candidates, now, emitted_ms)
        if self.memory.fresh:
            self.memory.fresh = set()
        if self.cards.fresh:
            self.cards.fresh = set()
        if self._hints:
            hourly = now % HOUR_MS == 0
            pending = sorted(self._hints) if hourly or force else sorted(self._hint_changed)
            alerts += self._emit_hinted(pending, now, emitted_ms, expire=hourly)
        self._hint_changed = set()
        return alerts

    def _campaign_state(self, cid: str | None) -> tuple[object, ...] | None:
        camp = None if cid is None else self.campaigns.get(cid)
        if camp is None:
            return None
        return (
            camp.severity,
            camp.alerted_size,
            camp.last_alert_ms,
            camp.allowed,
            camp.remembered_ms,
        )

    # ---- alerts -----------------------------------------------------------------------
    def _reasons(self, ev: Evidence) -> list[Reason]:
        g = self.population
        base: dict[str, float | None]
        if g is None:
            base = dict.fromkeys(("harvest", "youth", "mismatch", "infrastructure"))
        else:
            req = g[F_REQ]
            base = {
                "harvest": _ratio(g[F_HARVEST], HARVEST_UNITS * req),
                "youth": _ratio(g[F_YOUNG], g[F_AGE_KNOWN]),
                "mismatch": _ratio(g[F_MISMATCH], req),
                "infrastructure": _ratio(g[F_RISKY], req),
            }
        base["coordination"] = None
        base["density"] = None
        base["pool"] = None
        values = {"harvest": ev.harvest, **ev.family_values()}
        ranked = sorted(values, key=lambda k: values[k] - (base[k] or 0.0), reverse=True)
        out = []
        for k in ranked[:4]:
            b = base[k]
            out.append(
                Reason(
                    feature=k,
                    value=round(values[k], 4),
                    baseline=None if b is None else round(b, 4),
                    detail=f"{values[k]:.2f} in cluster"
                    + ("" if b is None else f" vs {b:.2f} overall"),
                )
            )
        return out

    def _campaign_id(self, members: list[str], now: int) -> str:
        """The id the members already carry (most votes), else that of the remembered
        campaign they touch most, else one from the evidence: the pivot that links most
        of them (ties: the smallest key)."""
        votes: dict[str, int] = {}
        for a in members:
            cid = self.member_of.get(a)
            if cid is not None:
                votes[cid] = votes.get(cid, 0) + 1
        if not votes and len(self.memory):
            for a in members:
                found = self.remembered_campaign(a, now)
                if found is not None:
                    votes[found[0]] = votes.get(found[0], 0) + 1
        if votes:
            return max(sorted(votes), key=lambda c: votes[c])
        count: dict[str, int] = {}
        for a in members:
            for key in self.links[a]:
                count[key] = count.get(key, 0) + 1
        top = min(count, key=lambda k: (-count[k], k))
        return "cmp-" + hashlib.blake2b(top.encode(), digest_size=6).hexdigest()

    def _allowance(self, account: str, cid: str | None, now: int) -> Verdict | None:
        """The benign verdict that allows this member (its campaign's, its own, its org's)."""
        book = self.verdicts
        v = book.benign("campaign", cid, at_ms=now) or book.benign("account", account, at_ms=now)
        if v is None and book.has("benign", "org"):
            tag = self._org_of.get(account)
            if tag:
                v = self._org_verdicts(now).get(tag)
        return v

    def _org_verdicts(self, now: int) -> dict[int, Verdict]:
        cached = self._org_cache
        key = (id(self.verdicts), self.verdicts.version, now)
        if cached is not None and cached[0] == key:
            return cached[1]
        tags = {
            org_tag(v.subject): v
            for v in self.verdicts.all()
            if v.subject_kind == "org" and v.verdict == "benign" and v.in_force(now)
        }
        self._org_cache = (key, tags)
        return tags

    def _remember(self, cid: str, members: list[str], now: int) -> None:
        """Remember the indicators most of the members share (hourly per campaign)."""
        links = self.links
        count = Counter(chain.from_iterable(links[a] for a in members))
        # only the most shared are kept: the head of the order, not a full sort
        shared = heapq.nsmallest(
            self.memory.max_per_campaign,
            (k for k, n in count.items() if n >= 2 and pivot_kind(k) not in SHARED_BY_STRANGERS),
            key=lambda k: (-count[k], k),
        )
        self.memory.remember(cid, shared, at_ms=now)
        if self.settings.member_cards:
            # each member's own card, however few share it — never an org's (its accounts
            # share the org's card) nor a trusted member's
            org_of = self._org_of
            cards: set[int] = set()
            for a in members:
                if a not in org_of and self.member_trust(a) == TRUST_NONE:
                    cards.update(self._cards_of(a))
            self.cards.remember(cid, sorted(cards), at_ms=now)

    def _cards_of(self, account: str) -> set[int]:
        """The cards the account's links and hints carry (each its latest on that pivot)."""
        got = set(self._link_cards.get(account, ()))
        hinted = self._hints.get(account)
        if hinted is not None:
            got.update(h[3] for h in hinted.values() if h[3])
        return got

    def _card_campaigns(self, account: str, now: int) -> list[str]:
        """The campaigns that remember one of this account's cards (``member_cards``)."""
        if not len(self.cards):
            return []
        found = {self.cards.campaign_of(card, at_ms=now) for card in self._cards_of(account)}
        return sorted(c for c in found if c is not None)

    def remembered_campaign(self, account: str, now: int) -> tuple[str, list[str]] | None:
        """The campaign whose remembered indicators this account's links touch in
        ``memory_min_indicator_kinds`` kinds (most kinds first, ties: smallest id); the
        account's own card, when a campaign remembers it, is a payment kind."""
        mine = self.links.get(account)
        memory = self.memory
        if not mine or not (len(memory) or len(self.cards)):
            return None
        kinds = {cid: {"payment"} for cid in self._card_campaigns(account, now)}
        entries = memory.entries
        for key in mine.keys() & entries.keys():  # walks the smaller of the two
            cid, expiry = entries[key]  # memory.campaign_of, inlined: once per link
            if now < expiry:
                got = kinds.get(cid)
                if got is None:
                    got = kinds[cid] = set()
                got.add(key[: key.index(":")])  # pivot_kind
        return self._most_kinds(kinds)

    def _most_kinds(self, kinds: dict[str, set[str]]) -> tuple[str, list[str]] | None:
        """The campaign reached in the most pivot kinds, at least
        ``memory_min_indicator_kinds`` (ties: smallest id), and those kinds."""
        need = self.settings.memory_min_indicator_kinds
        best = [c for c in sorted(kinds) if len(kinds[c]) >= need]
        if not best:
            return None
        cid = max(best, key=lambda c: len(kinds[c]))
        return cid, sorted(kinds[cid])

    @staticmethod
    def _state(level: int, allowed: bool) -> int:
        """What an account's last member alert is remembered with: 3 when allowed."""
        return 3 if allowed else level

    @staticmethod
    def _current(prev: tuple[str, str, int] | None, cid: str, rank: int, state: int) -> bool:
        """Is the member's last alert still the right one (same campaign, at least this
        severity, same allowance, no lower trust)?"""
        if prev is None or prev[0] != cid or SEVERITY_RANK[prev[1]] < rank:
            return False
        if (prev[2] == 3) != (state == 3):
            return False
        return prev[2] <= state

    def _member_alert(
        self,
        a: str,
        *,
        cid: str,
        severity: str,
        score: float,
        reasons: list[Reason],
        evidence: dict[str, int | float],
        now: int,
        emitted_ms: int,
        trust: int,
        allow: Verdict | None,
    ) -> AlertEvent:
        member = campaign_alert(
            entity_type="account",
            entity_id=a,
            campaign_id=cid,
            detector=self.name,
            severity=severity,  # type: ignore[arg-type]
            score=score,
            window_start_ms=now - DAY_MS,
            window_end_ms=now,
            emitted_ms=emitted_ms,
            reasons=reasons,
            evidence=evidence,
        )
        member = with_trust(
            member,
            trust=trust,
            actions=CAMPAIGN_ACTIONS,
            min_age_days=self.settings.trust_min_account_age_days,
        )
        self.alerted[a] = (cid, severity, self._state(trust, allow is not None))
        self._touched.add(a)
        return member if allow is None else suppressed(member, allow)

    def _emit(
        self, members: list[str], ev: Evidence, now: int, emitted_ms: int, *, cid: str
    ) -> list[AlertEvent]:
        severity = severity_of_cluster(families=ev.families, accounts=ev.accounts)
        rank = SEVERITY_RANK[severity]
        held = (cid, rank)
        for a in members:  # this tick's claim on them (:meth:`_held`)
            self._in_cluster[a] = held
        book = self.verdicts
        confirmed = book.confirmed("campaign", cid, at_ms=now)
        camp_allow = book.benign("campaign", cid, at_ms=now)
        camp = self.campaigns.get(cid)
        to_alert = []
        trust: dict[str, int] = {}
        allow: dict[str, Verdict | None] = {}
        touched = self._touched
        # only members that are new here or changed since this campaign's last look can
        # need an alert, as long as what applies to all of them is the same
        checked_key = (rank, confirmed, camp_allow, book.version, id(book))
        seen = self._checked.get(cid)
        if seen is not None and seen[0] == checked_key:
            before, recent = seen[1], self._tick_touched
            check = [a for a in members if a in recent or a not in before]
        else:
            check = members
        member_allows = book.has("benign", "account") or book.has("benign", "org")

        def level_of(a: str) -> int:
            # a confirmed campaign's members get its action whatever their standing
            return TRUST_NONE if confirmed is not None else self.member_trust(a)

        def allow_of(a: str) -> Verdict | None:
            if camp_allow is not None or not member_allows:
                return camp_allow
            return self._allowance(a, cid, now)

        for a in check:
            if self.member_of.get(a) != cid:
                self.member_of[a] = cid
                touched.add(a)
            level = level_of(a)
            v = allow_of(a)
            if not self._current(self.alerted.get(a), cid, rank, self._state(level, v is not None)):
                to_alert.append(a)
                trust[a] = level
                allow[a] = v
        self._checked[cid] = (checked_key, set(members))
        if camp_allow is None and member_allows and all(allow_of(a) is not None for a in members):
            camp_allow = allow_of(members[0])  # every member allowed: so is the cluster
        new_or_escalated = (
            camp is None
            or rank > SEVERITY_RANK[camp.severity]
            or (len(members) >= 2 * camp.alerted_size and now - camp.last_alert_ms >= HOUR_MS)
            or camp.allowed != (camp_allow is not None)
        )
        due = camp is None or camp.remembered_ms is None or now - camp.remembered_ms >= HOUR_MS
        if camp_allow is None and (severity == "critical" or confirmed is not None) and due:
            self._remember(cid, members, now)
            if camp is None:
                camp = self.campaigns[cid] = _Campaign(now, severity, 0, now)
            camp.remembered_ms = now
        if not new_or_escalated and not to_alert:
            return []
        busiest = {a: self._summary(a)[S_BUSIEST] for a in members}
        total = sum(busiest.values())
        reasons = self._reasons(ev)
        start = now - DAY_MS
        out: list[AlertEvent] = []
        if camp is None:
            camp = self.campaigns[cid] = _Campaign(now, severity, 0, now)
        if new_or_escalated:
            kinds: dict[str, int] = {}
            for a in members:
                for k in self._kinds.get(a, ()):
                    kinds[k] = kinds.get(k, 0) + 1
            alert = campaign_alert(
                entity_type="campaign",
                entity_id=cid,
                campaign_id=cid,
                detector=self.name,
                severity=severity,
                score=ev.score,
                window_start_ms=start,
                window_end_ms=now,
                emitted_ms=emitted_ms,
                reasons=reasons,
                evidence={
                    "accounts": len(members),
                    "requests": total,
                    "distinct_subnets": len(
                        {
                            pivot_value(key)
                            for a in members
                            for key in self.links[a]
                            if key.startswith("subnet:")
                        }
                    ),
                    "families": ev.families,
                    "trusted_members": sum(1 for a in members if level_of(a) != TRUST_NONE),
                    "allowed_members": sum(1 for a in members if allow_of(a) is not None),
                    **{f"linked_via_{k}": n for k, n in sorted(kinds.items())},
                },
            )
            out.append(alert if camp_allow is None else suppressed(alert, camp_allow))
            camp.alerted_size = len(members)
            camp.last_alert_ms = now
            camp.allowed = camp_allow is not None
            if rank > SEVERITY_RANK[camp.severity]:
                camp.severity = severity
        for a in to_alert:
            out.append(
                self._member_alert(
                    a,
                    cid=cid,
                    severity=severity,
                    score=ev.score,
                    reasons=reasons,
                    evidence={
                        "requests": busiest[a],
                        "campaign_accounts": len(members),
                        "campaign_requests": total,
                    },
                    now=now,
                    emitted_ms=emitted_ms,
                    trust=trust[a],
                    allow=allow[a],
                )
            )
        return out

    def _emit_remembered(self, accounts: list[str], now: int, emitted_ms: int) -> list[AlertEvent]:
        """Accounts linked through remembered indicators of a known campaign: member
        alerts under its id at once, whatever the size of their own cluster."""
        out: list[AlertEvent] = []
        for a in accounts:
            found = self.remembered_campaign(a, now)
            if found is None:
                continue
            cid, kinds = found
            camp = self.campaigns.get(cid)
            confirmed = self.verdicts.confirmed("campaign", cid, at_ms=now)
            severity = "critical" if confirmed is not None or camp is None else camp.severity
            rank = SEVERITY_RANK[severity]
            level = TRUST_NONE if confirmed is not None else self.member_trust(a)
            v = self._allowance(a, cid, now)
            if self._current(self.alerted.get(a), cid, rank, self._state(level, v is not None)):
                continue
            if self._held(a, cid, rank):
                continue
            self.member_of[a] = cid
            self._touched.add(a)
            self.remembered_members += 1
            busiest = max(s[0] for s in self.links[a].values())
            why = "confirmed" if confirmed is not None else "critical"
            reason = Reason(
                feature="remembered_indicators",
                value=float(len(kinds)),
                detail=f"shares remembered indicators ({', '.join(kinds)}) of {why} campaign {cid}",
            )
            out.append(
                self._member_alert(
                    a,
                    cid=cid,
                    severity=severity,
                    score=1.0 if confirmed is not None else 0.9,
                    reasons=[reason],
                    evidence={"requests": busiest, "remembered_kinds": len(kinds)},
                    now=now,
                    emitted_ms=emitted_ms,
                    trust=level,
                    allow=v,
                )
            )
        return out

    def _held(self, account: str, cid: str, rank: int) -> bool:
        """Is the account in a suspicious cluster of another campaign at least this severe,
        looked at in this tick? Then remembered indicators or hints of ``cid`` do not take
        it over: it would be re-alerted under each id in turn, every tick its links change
        (measured: one account 83 times in a day, 16x the alerts of the run before)."""
        held = self._in_cluster.get(account)
        return held is not None and held[0] != cid and held[1] >= rank

    def _dominant(self, key: str, now: int, cache: dict[str, str | None]) -> str | None:
        """The alerted campaign holding at least ``hint_min_share`` of the accounts linked
        on this pivot (None: none does, or too few are linked to say)."""
        if key in cache:
            return cache[key]
        found = None
        linked = self.by_pivot.get(key)
        if linked is not None and len(linked) >= self.settings.min_cluster_accounts:
            votes: dict[str, int] = {}
            member_of = self.member_of
            for a in linked:
                cid = member_of.get(a)
                if cid is not None:
                    votes[cid] = votes.get(cid, 0) + 1
            if votes:
                cid = min(votes, key=lambda c: (-votes[c], c))
                camp = self.campaigns.get(cid)
                if (
                    camp is not None
                    and camp.last_alert_ms >= now - DAY_MS
                    and votes[cid] >= self.settings.hint_min_share * len(linked)
                ):
                    found = cid
        cache[key] = found
        return found

    def _emit_hinted(
        self, accounts: list[str], now: int, emitted_ms: int, *, expire: bool
    ) -> list[AlertEvent]:
        """Accounts whose hints (and links) reach ``memory_min_indicator_kinds`` kinds of
        pivots one alerted campaign's members dominate: member alerts under its id."""
        out: list[AlertEvent] = []
        cache: dict[str, str | None] = {}
        for a in accounts:
            mine = self._hints.get(a)
            if mine is None:
                continue
            if expire:  # a hint lives one links refresh past its last sending, at most a day
                ttl = min(DAY_MS, 2 * self.settings.linkage_refresh_ms)
                for key in [k for k, h in mine.items() if h[0] < now - ttl]:
                    self._unhint(a, key)
                mine = self._hints.get(a)
                if mine is None:
                    continue
            kinds = {
                cid: {"payment"} for cid in self._card_campaigns(a, now) if cid in self.campaigns
            }
            for key in sorted({*mine, *self.links.get(a, ())}):
                cid = self._dominant(key, now, cache)
                if cid is not None:
                    kinds.setdefault(cid, set()).add(pivot_kind(key))
            picked = self._most_kinds(kinds)
            if picked is None:
                continue
            cid, found = picked
            camp = self.campaigns[cid]
            rank = SEVERITY_RANK[camp.severity]
            level = min(h[2] for h in mine.values())
            if a in self.links:
                level = min(level, self.member_trust(a))
            v = self._allowance(a, cid, now)
            if self._current(self.alerted.get(a), cid, rank, self._state(level, v is not None)):
                continue
            if self._held(a, cid, rank):
                continue
            self.member_of[a] = cid
            self._touched.add(a)
            self.hinted_members += 1
            reason = Reason(
                feature="campaign_indicators",
                value=float(len(found)),
                detail=f"harvest-like on indicators ({', '.join(found)}) whose linked accounts "
                f"are mostly campaign {cid}'s",
            )
            out.append(
                self._member_alert(
                    a,
                    cid=cid,
                    severity=camp.severity,
                    score=0.8,
                    reasons=[reason],
                    evidence={
                        "requests": max(h[1] for h in mine.values()),
                        "campaign_kinds": len(found),
                    },
                    now=now,
                    emitted_ms=emitted_ms,
                    trust=level,
                    allow=v,
                )
            )
        return out

    def active_campaigns(self, now_ms: int) -> int:
        return sum(1 for c in self.campaigns.values() if c.last_alert_ms >= now_ms - DAY_MS)

    def sizes(self) -> dict[str, int]:
        return {
            "linked_accounts": len(self.links),
            "campaign_members": len(self.member_of),
            "campaigns": len(self.campaigns),
        }
