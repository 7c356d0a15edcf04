"""Streaming campaign linkage: accounts linked through shared indicators, with time decay.

Every request updates its account and the *pivots* it carries — /24 (/48) subnet,
payment fingerprint, TLS fingerprint + user agent, prompt template hash, SimHash
bands, account-creation hour — each a 24 h sliding view over 10-minute buckets.
A pivot seen by one account only stays a lightweight "solo" entry; it becomes a full
pivot when a second account shows up, so memory follows sharing, not traffic.

Every ``tick_ms`` of event time the linker

1. scores each pivot's cohort (accounts seen on it in 24 h) with :class:`Evidence`;
2. links, through suspicious pivots, the members that themselves look like the
   cohort (harvest-like traffic plus youth, mismatch or risky/shared infrastructure);
3. scores each connected component as a whole and flags it as a campaign;
4. emits a campaign alert (new, escalated or doubled) and an account alert for every
   member not yet alerted, all carrying a stable ``campaign_id``.

Entries idle for 24 h (pivots) / 48 h (accounts) expire, which is the time decay.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.alerts.dedup import Deduper
from app.campaigns.evidence import FAMILY_THRESHOLD, CountMoments, Evidence, homogeneity
from app.campaigns.unionfind import UnionFind
from app.config import DetectionSettings
from app.detectors.account_window import WindowModel
from app.events import AlertEvent, Reason, RequestEvent
from app.events.alert import Action, Severity, alert_id_for
from app.features.request import HARVEST_UNITS, RequestSignals
from app.windows.hll import HyperLogLog
from app.windows.sliding import DAY_MS, HOUR_MS, TEN_MIN_MS, SlidingSums

__all__ = ["DETECTOR_NAME", "AccountState", "CampaignLinker", "PivotState"]

DETECTOR_NAME = "campaign_linkage"

F_REQ, F_HARVEST, F_MISMATCH, F_YOUNG, F_RISKY, F_AGE_KNOWN, F_COMPLETION, F_429 = range(8)
N_FIELDS = 8
#: Accounts keep the first six fields (completion tokens and 429s only feed entity models).
ACCOUNT_FIELDS = 6
#: Fields of a pivot member record (one ``array('d')`` per account and pivot).
R_LAST, R_N, R_HARVEST, R_MISMATCH, R_RISKY, R_YOUNG = range(6)
_SIM_BANDS = 3
_SIM_BAND_BITS = 21
_ACCOUNT_IDLE_MS = 2 * DAY_MS
_MAX_SUBNETS = 16

Pivot = tuple[str, str]

#: Pivot kinds that never link accounts on their own (an ASN holds millions of
#: unrelated customers); they still get windows, a River model and entity alerts.
_NON_LINKING = frozenset({"asn"})
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

_ACTION: dict[Severity, tuple[Action, int]] = {
    "low": ("observe", 0),
    "medium": ("verify", 6 * 3600),
    "high": ("throttle", 6 * 3600),
    "critical": ("block", 24 * 3600),
}
_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _sums() -> SlidingSums:
    """A pivot's (or the global) 24 h view over 10-minute buckets of all fields."""
    return SlidingSums(n_fields=N_FIELDS, bucket_ms=TEN_MIN_MS, horizon_ms=DAY_MS)


class AccountState:
    __slots__ = (
        "account_id",
        "alerted",
        "campaign_id",
        "created_ms",
        "last_ts",
        "more_subnets",
        "subnet",
        "subnet_ts",
        "sums",
        "version",
    )

    def __init__(self, account_id: str, created_ms: int | None) -> None:
        #: The one string object every pivot record and solo entry of the account keys on
        #: (each event decodes its own copy of the id).
        self.account_id = account_id
        # Accounts only need their 24 h totals: hourly buckets keep them small.
        self.sums = SlidingSums(n_fields=ACCOUNT_FIELDS, bucket_ms=HOUR_MS, horizon_ms=DAY_MS)
        self.created_ms = created_ms
        self.last_ts = 0
        #: The /24s (or /48s) the account was seen on, with the time of the last request
        #: from each: most accounts use one, kept in two slots; a dict only for the rest
        #: (a dict per account was ~180 bytes of every light account).
        self.subnet: str | None = None
        self.subnet_ts = 0
        self.more_subnets: dict[str, int] | None = None
        self.campaign_id: str | None = None
        #: (campaign_id, severity) of the last account alert.
        self.alerted: tuple[str, str] | None = None
        self.version = 0

    def subnets(self) -> list[tuple[str, int]]:
        """(subnet, last request time) pairs."""
        out = [] if self.subnet is None else [(self.subnet, self.subnet_ts)]
        if self.more_subnets:
            out.extend(self.more_subnets.items())
        return out

    def saw_subnet(self, subnet: str, ts_ms: int) -> None:
        """Record a request from ``subnet`` (at most ``_MAX_SUBNETS`` subnets are kept)."""
        if self.subnet == subnet:
            self.subnet_ts = ts_ms
            return
        more = self.more_subnets
        if more is not None and subnet in more:
            more[subnet] = ts_ms
            return
        if self.subnet is None:
            self.subnet = sys.intern(subnet)  # shared with the other accounts of the /24
            self.subnet_ts = ts_ms
        elif more is None:
            self.more_subnets = {subnet: ts_ms}
        elif len(more) + 1 < _MAX_SUBNETS:
            more[subnet] = ts_ms

    def forget_subnets_before(self, cutoff_ms: int) -> None:
        if self.subnet is not None and self.subnet_ts < cutoff_ms:
            self.subnet = None
        more = self.more_subnets
        if more:
            for s in [s for s, ts in more.items() if ts < cutoff_ms]:
                del more[s]


#: What :meth:`PivotState.add` did to the account's member record.
_UNTRACKED, _COUNTED, _RESTARTED = range(3)

#: Accounts tracked exactly per pivot; beyond this a HyperLogLog counts the rest, so a
#: pivot shared by a whole population (a popular SDK fingerprint) stays bounded.
MAX_PIVOT_ACCOUNTS = 20_000


class PivotState:
    __slots__ = (
        "accounts",
        "anchor",
        "dirty",
        "failed",
        "last_ts",
        "linked",
        "moments",
        "overflow",
        "scanned",
        "sums",
        "version",
    )

    def __init__(self) -> None:
        self.sums = _sums()
        #: account → array [last_ts, requests, harvest, mismatch, risky_ip, young] (the
        #: ``R_*`` indices): the account's traffic *on this pivot* within the 24 h view.
        self.accounts: dict[str, array[float]] = {}
        #: Running moments of the members' request counts (``R_N``): coordination
        #: without a pass over every member.
        self.moments = CountMoments()
        self.last_ts = 0
        self.version = 0
        #: Members already joined in the linker's union-find (reset at each links refresh) and the
        #: member they were joined to.
        self.linked: set[str] = set()
        self.anchor: str | None = None
        self.overflow: HyperLogLog | None = None
        #: Accounts whose record changed since the last tick looked at this pivot, and
        #: whether a tick has examined every member since the last links refresh: after a
        #: full scan only changed members are re-examined.
        self.dirty: set[str] = set()
        self.scanned = False
        #: account → its version when it last failed the member gate here: not re-checked
        #: until it sends traffic (cleared at each links refresh, dropped with the pivot;
        #: a member that passes joins the candidates and is not checked again).
        self.failed: dict[str, int] = {}

    @property
    def distinct_accounts(self) -> int:
        """Accounts seen in the 24 h view (approximate once past the exact-tracking cap)."""
        extra = len(self.overflow) if self.overflow is not None else 0
        return len(self.accounts) + extra

    def add(self, account: str, ts: int, values: Sequence[int]) -> int:
        """Count one request; returns ``_COUNTED`` when the account's record grew by
        exactly this request (a new record included), ``_RESTARTED`` when a record older
        than the 24 h view started over, ``_UNTRACKED`` past the exact-tracking cap."""
        self.sums.add(ts, values)
        self.version += 1
        rec = self.accounts.get(account)
        if rec is None and len(self.accounts) >= MAX_PIVOT_ACCOUNTS:
            if self.overflow is None:
                self.overflow = HyperLogLog()
            self.overflow.add(account)
            self.last_ts = max(self.last_ts, ts)
            return _UNTRACKED
        self.dirty.add(account)
        if rec is None or rec[R_LAST] < ts - DAY_MS:
            if rec is None:
                self.moments.insert(1)
                how = _COUNTED
            else:
                self.moments.replace(int(rec[R_N]), 1)
                how = _RESTARTED
            self.accounts[account] = array(
                "d",
                (ts, 1, values[F_HARVEST], values[F_MISMATCH], values[F_RISKY], values[F_YOUNG]),
            )
            self.last_ts = max(self.last_ts, ts)
            return how
        if ts > rec[R_LAST]:
            rec[R_LAST] = ts
        n = int(rec[R_N])
        self.moments.replace(n, n + 1)  # integer moments: exact at any size
        rec[R_N] = n + 1
        rec[R_HARVEST] += values[F_HARVEST]
        rec[R_MISMATCH] += values[F_MISMATCH]
        rec[R_RISKY] += values[F_RISKY]
        rec[R_YOUNG] += values[F_YOUNG]
        self.last_ts = max(self.last_ts, ts)
        return _COUNTED

    def expire(self, now_ms: int) -> list[tuple[str, array[float]]]:
        """Drop what left the 24 h view; returns the member records that went."""
        cutoff = now_ms - DAY_MS
        stale = [(a, rec) for a, rec in self.accounts.items() if rec[R_LAST] < cutoff]
        remove = self.moments.remove
        accounts = self.accounts
        for a, rec in stale:
            del accounts[a]
            remove(int(rec[R_N]))
        if (
            self.overflow is not None
            and self.sums.last_bucket_ms is not None
            and self.sums.last_bucket_ms < cutoff
        ):
            self.overflow = None
        self.sums.expire(now_ms=now_ms)
        return stale


@dataclass(slots=True)
class _Campaign:
    first_ms: int
    severity: str
    alerted_size: int
    last_alert_ms: int


def _pack(values: Sequence[int]) -> int:
    """One request's values as one int (what a solo indicator keeps of its last request).

    >>> v = (1, 13, 1, 0, 1, 1, 4096, 0)
    >>> list(_unpack(_pack(v))) == list(v)
    True
    """
    return (
        values[F_COMPLETION] << 10
        | values[F_HARVEST] << 5
        | values[F_MISMATCH] << 4
        | values[F_YOUNG] << 3
        | values[F_RISKY] << 2
        | values[F_AGE_KNOWN] << 1
        | values[F_429]
    )


def _unpack(packed: int) -> array[int]:
    """The values :func:`_pack` packed (one request: ``F_REQ`` is 1)."""
    return array(
        "i",
        (
            1,
            packed >> 5 & 31,
            packed >> 4 & 1,
            packed >> 3 & 1,
            packed >> 2 & 1,
            packed >> 1 & 1,
            packed >> 10,
            packed & 1,
        ),
    )


def _tally(c: list[float], rec: array[float], sign: int = 1) -> None:
    """Add (or with ``sign=-1`` take out) a member record's counts to a contribution."""
    c[0] += sign * rec[R_N]
    c[1] += sign * rec[R_HARVEST]
    c[2] += sign * rec[R_MISMATCH]
    c[3] += sign * rec[R_RISKY]
    c[4] += sign * rec[R_YOUNG]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def pivots_of(e: RequestEvent, s: RequestSignals, subnet: str) -> list[Pivot]:
    out: list[Pivot] = [("subnet", subnet)]
    if e.payment_fingerprint:
        out.append(("payment", e.payment_fingerprint))
    if e.tls_ja4:
        out.append(("tls", f"{e.tls_ja4}|{e.user_agent or ''}"))
    if e.prompt_template_hash:
        out.append(("template", e.prompt_template_hash))
    if e.prompt_simhash and s.harvest >= 0.5:
        value = int(e.prompt_simhash, 16)
        mask = (1 << _SIM_BAND_BITS) - 1
        for band in range(_SIM_BANDS):
            out.append(("simhash", f"{band}:{(value >> (band * _SIM_BAND_BITS)) & mask:x}"))
    if s.young and e.account_created_ms is not None:
        out.append(("created", str(e.account_created_ms // HOUR_MS)))
    if e.asn is not None:
        out.append(("asn", str(e.asn)))
    return out


class CampaignLinker:
    """Incremental account-linkage graph with periodic connected components."""

    name = DETECTOR_NAME

    def __init__(self, settings: DetectionSettings) -> None:
        self.settings = settings
        self.accounts: dict[str, AccountState] = {}
        self.pivots: dict[Pivot, PivotState] = {}
        #: Indicators seen with one account so far: (account, time, packed values) of its
        #: last request, which seeds the pivot when a second account shows up.
        self._solo: dict[Pivot, tuple[str, int, int]] = {}
        self.campaigns: dict[str, _Campaign] = {}
        self._next_tick: int | None = None
        #: Event time past which the next tick runs (its boundary plus the grace period):
        #: ticks depend on event order only, not on how events were batched.
        self.next_due_ms: int = 2**62
        self.global_sums = _sums()
        #: Per-tick memo of "account shares a /24 with another account" (by object id).
        self._infra_cache: dict[int, bool] = {}
        #: Pivots that received traffic since the last tick: between the hourly ticks
        #: (which re-read everything) only these can change their verdict.
        self._touched: set[Pivot] = set()
        self._last_expire_ms = 0
        #: Bumped whenever pivots are dropped (expiry, eviction): a memo computed before
        #: may refer to a pivot that has since been re-created.
        self._pivot_epoch = 0
        #: account → its traffic on the pivots it qualified on (requests, harvest units,
        #: mismatch, risky, young, busiest pivot's requests), kept up to date as its
        #: requests arrive, it qualifies on pivots and records are dropped; re-read from
        #: the records only when its busiest one may have gone down. Integer-valued: the
        #: running sums equal a re-read exactly.
        self._contrib: dict[str, list[float]] = {}
        self._last_refresh_ms = 0
        #: Accounts and solo indicators dropped to stay within the configured caps.
        self.evicted = 0
        #: pivot → (version, evidence or None), reused across ticks until the pivot changes
        #: (or the hourly refresh). Member verdicts: ``PivotState.failed``.
        self._pivot_memo: dict[Pivot, tuple[int, Evidence | None]] = {}
        #: Links accumulate across ticks and are rebuilt every ``linkage_refresh_ms`` (the decay).
        self._uf = UnionFind()
        #: The union-find's groups (sorted members), recomputed only after it changed.
        self._groups: list[list[str]] | None = None
        self._pivot_kinds: dict[str, dict[str, int]] = {}
        #: Suspicious pivots each account qualified on (it joins a cluster only once it
        #: qualifies on pivots of two different kinds: one shared indicator is no link).
        self._candidate: dict[str, set[Pivot]] = {}
        #: Accounts that qualified on a new pivot during this tick (applied to the
        #: union-find once they qualify on two kinds; an account whose candidate set did
        #: not grow cannot change its verdict, so the set is emptied after every tick).
        self._pending: dict[str, list[Pivot]] = {}
        #: account → pivot epoch when every pivot it qualified on was last linked: while
        #: no pivot was dropped since, only its newly qualified pivots need linking.
        self._linked_at: dict[str, int] = {}
        #: first member → (size, computed at, evidence) of clusters scored recently.
        self._cluster_memo: dict[str, tuple[int, int, Evidence]] = {}
        #: One River model per entity kind, scored on hourly window summaries.
        self.entity_models = {
            kind: WindowModel(
                settings,
                name=f"{kind}_window_hst",
                features=ENTITY_FEATURES,
                log_features=_ENTITY_LOG,
            )
            for kind in ENTITY_TYPES
        }
        self._entity_dedup = Deduper(cooldown_ms=DAY_MS)  # one observe-level alert a day

    # ---- per request ----------------------------------------------------------------
    def observe(self, e: RequestEvent, s: RequestSignals, subnet: str) -> None:
        # Integers (harvest in 1/HARVEST_UNITS units): window sums stay exact.
        values = array(
            "i",
            (
                1,
                s.harvest_units,
                s.mismatch,
                s.young,
                s.risky_ip,
                s.age_known,
                e.completion_tokens,
                s.rate_limited,
            ),
        )
        acc = self.accounts.get(e.account_id)
        if acc is None:
            if len(self.accounts) >= self.settings.max_tracked_accounts:
                # A flood of new account ids: forget the longest-tracked account.
                del self.accounts[next(iter(self.accounts))]
                self.evicted += 1
            acc = self.accounts[e.account_id] = AccountState(e.account_id, e.account_created_ms)
        account_id = acc.account_id
        acc.sums.add(e.ts_ms, values[:ACCOUNT_FIELDS])
        acc.version += 1
        acc.last_ts = max(acc.last_ts, e.ts_ms)
        acc.saw_subnet(subnet, e.ts_ms)
        self.global_sums.add(e.ts_ms, values)
        touched = self._touched
        qualified = self._candidate.get(account_id)  # pivots it qualified on, if any
        for key in pivots_of(e, s, subnet):
            p = self.pivots.get(key)
            if p is not None:
                how = p.add(account_id, e.ts_ms, values)
                touched.add(key)
                if qualified is not None and key in qualified:
                    self._contribute(account_id, how, p, values)
                continue
            solo = self._solo.get(key)
            if solo is None or solo[1] < e.ts_ms - DAY_MS:
                if solo is None and len(self._solo) >= self.settings.max_solo_indicators:
                    del self._solo[next(iter(self._solo))]
                    self.evicted += 1
                self._solo[key] = (account_id, e.ts_ms, _pack(values))
            elif solo[0] != account_id:
                if len(self.pivots) >= self.settings.max_pivots:
                    self._drop_pivot(next(iter(self.pivots)))
                    self._pivot_epoch += 1
                    self.evicted += 1
                p = self.pivots[key] = PivotState()
                touched.add(key)
                del self._solo[key]
                # Either account may have qualified on this pivot before it was dropped.
                for a, ts, vals in (
                    (solo[0], solo[1], _unpack(solo[2])),
                    (account_id, e.ts_ms, values),
                ):
                    how = p.add(a, ts, vals)
                    if key in self._candidate.get(a, ()):
                        self._contribute(a, how, p, vals)
            else:
                self._solo[key] = (account_id, e.ts_ms, _pack(values))
        if self._next_tick is None:
            tick = self.settings.linkage_tick_ms
            self._next_tick = e.ts_ms - e.ts_ms % tick + tick
            self.next_due_ms = self._next_tick + self.settings.grace_ms

    def _contribute(self, account: str, how: int, p: PivotState, values: Sequence[int]) -> None:
        """Keep ``account``'s contribution current after a request on a pivot it
        qualified on (what :meth:`linked_evidence` would re-read from the records)."""
        c = self._contrib.get(account)
        if c is None or how == _UNTRACKED:
            return
        if how == _RESTARTED:  # its count went down: the busiest pivot must be re-read
            del self._contrib[account]
            return
        c[0] += 1
        c[1] += values[F_HARVEST]
        c[2] += values[F_MISMATCH]
        c[3] += values[F_RISKY]
        c[4] += values[F_YOUNG]
        c[5] = max(c[5], int(p.accounts[account][R_N]))

    def _read_contribution(self, account: str) -> list[float]:
        """The account's traffic on the pivots it qualified on, from their records."""
        c = [0.0] * 6
        pivots = self.pivots
        for key in self._candidate.get(account, ()):
            p = pivots.get(key)
            rec = p.accounts.get(account) if p is not None else None
            if rec is not None:
                _tally(c, rec)
                c[5] = max(c[5], int(rec[R_N]))
        return c

    def _uncount(self, account: str, key: Pivot, rec: array[float]) -> None:
        """Take a dropped member record out of its account's contribution."""
        c = self._contrib.get(account)
        if c is None or key not in self._candidate.get(account, ()):
            return
        if rec[R_N] >= c[5]:  # maybe the busiest: re-read
            del self._contrib[account]
            return
        _tally(c, rec, -1)

    def _drop_pivot(self, key: Pivot) -> None:
        """Forget a pivot, and its members' records in their contributions."""
        for a, rec in self.pivots.pop(key).accounts.items():
            self._uncount(a, key, rec)

    def active_campaigns(self, now_ms: int) -> int:
        return sum(1 for c in self.campaigns.values() if c.last_alert_ms >= now_ms - DAY_MS)

    def sizes(self) -> dict[str, int]:
        return {
            "accounts": len(self.accounts),
            "pivots": len(self.pivots),
            "solo_indicators": len(self._solo),
        }

    # ---- evidence -----------------------------------------------------------------------
    def _shared_infra(self, acc: AccountState, cutoff: int) -> bool:
        cache = self._infra_cache
        hit = cache.get(id(acc))
        if hit is not None:
            return hit
        cache[id(acc)] = False
        for subnet, ts in acc.subnets():
            if ts >= cutoff:
                p = self.pivots.get(("subnet", subnet))
                if p is not None and len(p.accounts) >= 2:
                    cache[id(acc)] = True
                    return True
        return False

    def account_view(self, account_id: str, now_ms: int) -> dict[str, float] | None:
        """24 h evidence of one account (None if unknown)."""
        acc = self.accounts.get(account_id)
        if acc is None:
            return None
        v = acc.sums.view(now_ms=now_ms)
        req = v[F_REQ]
        return {
            "requests": req,
            "harvest": _ratio(v[F_HARVEST], HARVEST_UNITS * req),
            "mismatch": _ratio(v[F_MISMATCH], req),
            "young": _ratio(v[F_YOUNG], v[F_AGE_KNOWN]),
            "risky_ip": _ratio(v[F_RISKY], req),
            "shared_infra": float(self._shared_infra(acc, now_ms - DAY_MS)),
        }

    def _member_ok(self, rec: array[float], acc: AccountState, cutoff: int) -> bool:
        """Does this account's traffic *on the pivot* look like the cohort's?"""
        n = rec[R_N]
        if rec[R_HARVEST] / (HARVEST_UNITS * n) < self.settings.member_min_harvest:
            return False
        return (
            rec[R_YOUNG] / n >= FAMILY_THRESHOLD
            or rec[R_MISMATCH] / n >= FAMILY_THRESHOLD
            or rec[R_RISKY] / n >= FAMILY_THRESHOLD
            or self._shared_infra(acc, cutoff)
        )

    def _cohort_evidence(self, key: Pivot, p: PivotState, now_ms: int) -> Evidence | None:
        v = p.sums.view(now_ms=now_ms)
        req = v[F_REQ]
        harvest = _ratio(v[F_HARVEST], HARVEST_UNITS * req)
        if harvest < self.settings.min_harvest:
            return None
        cutoff = now_ms - DAY_MS
        youth = _ratio(v[F_YOUNG], v[F_AGE_KNOWN])
        mismatch = _ratio(v[F_MISMATCH], req)
        infrastructure = 1.0 if key[0] == "subnet" else _ratio(v[F_RISKY], req)
        ev = Evidence(
            accounts=p.distinct_accounts,
            harvest=harvest,
            youth=youth,
            mismatch=mismatch,
            infrastructure=infrastructure,
            coordination=p.moments.homogeneity(),  # O(1): running moments
        )
        if ev.families >= 2 or ev.infrastructure >= FAMILY_THRESHOLD:
            return ev
        # Only when it could decide: the (costlier) share of members on shared addresses.
        shared = sum(
            1
            for a in p.accounts
            if (acc := self.accounts.get(a)) and self._shared_infra(acc, cutoff)
        )
        return Evidence(
            accounts=ev.accounts,
            harvest=ev.harvest,
            youth=ev.youth,
            mismatch=ev.mismatch,
            infrastructure=max(ev.infrastructure, _ratio(shared, len(p.accounts))),
            coordination=ev.coordination,
        )

    def linked_evidence(self, members: Iterable[str], now_ms: int) -> Evidence:
        """Cluster evidence from the members' traffic on the pivots that linked them.

        A hijacked account's own benign traffic does not dilute what it does on the
        campaign's infrastructure; a member's volume is its busiest linking pivot's.
        """
        n = 0
        req = harvest = mismatch = risky = young = 0.0
        counts: list[float] = []
        shared = 0
        cutoff = now_ms - DAY_MS
        contrib = self._contrib
        accounts = self.accounts
        for a in members:
            acc = accounts.get(a)
            c = contrib.get(a)
            if c is None:
                c = contrib[a] = self._read_contribution(a)
            req += c[0]
            harvest += c[1]
            mismatch += c[2]
            risky += c[3]
            young += c[4]
            counts.append(c[5])
            shared += bool(acc is not None and self._shared_infra(acc, cutoff))
            n += 1
        return Evidence(
            accounts=n,
            harvest=_ratio(harvest, HARVEST_UNITS * req),
            youth=_ratio(young, req),
            mismatch=_ratio(mismatch, req),
            infrastructure=max(_ratio(shared, n), _ratio(risky, req)),
            coordination=homogeneity(counts),
        )

    # ---- periodic linkage ---------------------------------------------------------------
    def before_event(self, ts_ms: int, *, emitted_ms: int) -> list[AlertEvent]:
        """Run the tick an event at ``ts_ms`` would pass (call before :meth:`observe`)."""
        if ts_ms <= self.next_due_ms:
            return []
        # The latest boundary the event passes (quiet intervals need no tick of their own).
        grace = self.settings.grace_ms
        boundary = ts_ms - grace - 1
        boundary -= boundary % self.settings.linkage_tick_ms
        return self.tick(boundary + grace, emitted_ms=emitted_ms)

    def tick(self, now_ms: int, *, emitted_ms: int) -> list[AlertEvent]:
        """Expire, link, score and emit with the evidence complete at ``now_ms``."""
        tick_ms = self.settings.linkage_tick_ms
        boundary = now_ms - self.settings.grace_ms
        self._next_tick = boundary - boundary % tick_ms + tick_ms
        self.next_due_ms = self._next_tick + self.settings.grace_ms
        now = now_ms
        self._infra_cache = {}
        entity_alerts: list[AlertEvent] = []
        # Between full passes a pivot without new traffic keeps its memoised verdict and
        # has no changed member: nothing to do for it.
        full = False
        if now - self._last_expire_ms >= HOUR_MS:  # expiry and entity models: hourly
            full = True
            self._expire(now)
            entity_alerts = self._score_entities(now, emitted_ms)
            self._last_expire_ms = now
            self._pivot_memo.clear()
        if now - self._last_refresh_ms >= self.settings.linkage_refresh_ms:
            # Links decay: rebuilt from the evidence still inside the 24 h views.
            full = True
            self._last_refresh_ms = now
            self._uf = UnionFind()
            self._groups = None
            self._pivot_kinds = {}
            self._candidate = {}
            self._contrib = {}
            self._pending = {}
            self._linked_at = {}
            self._cluster_memo = {}
            for p in self.pivots.values():
                p.linked = set()
                p.anchor = None
                p.scanned = False
                p.failed = {}
        st = self.settings
        uf = self._uf
        pivot_memo = self._pivot_memo
        pivot_kinds = self._pivot_kinds
        pivots = self.pivots
        if full:
            todo_pivots: Iterable[tuple[Pivot, PivotState]] = pivots.items()
        else:
            todo_pivots = [(k, pv) for k in self._touched if (pv := pivots.get(k)) is not None]
        self._touched = set()
        for key, p in todo_pivots:
            changed = p.dirty
            if changed:
                p.dirty = set()
            if len(p.accounts) < st.min_cohort_accounts or key[0] in _NON_LINKING:
                p.scanned = False
                continue
            memo = pivot_memo.get(key)
            if memo is not None and memo[0] == p.version:
                ev = memo[1]
            else:
                ev = self._cohort_evidence(key, p, now)
                pivot_memo[key] = (p.version, ev)
            if ev is None or not ev.suspicious(
                min_accounts=st.min_cohort_accounts, min_harvest=st.min_harvest
            ):
                p.scanned = False
                continue
            linked = p.linked
            if len(linked) >= len(p.accounts):
                continue
            candidate = self._candidate
            on_pivot = p.accounts
            failed = p.failed
            if p.scanned:  # only members with new traffic here can newly qualify
                todo = [a for a in changed if a in on_pivot]
            else:
                todo = list(on_pivot)
                p.scanned = True
            for a in todo:
                if a in linked or key in candidate.get(a, ()):
                    continue  # already qualified on this pivot since the links refresh
                rec = on_pivot[a]
                acc = self.accounts.get(a)
                if acc is None:
                    continue
                if failed.get(a) == acc.version:
                    continue
                if not self._member_ok(rec, acc, now - DAY_MS):
                    failed[a] = acc.version
                else:
                    candidate.setdefault(a, set()).add(key)
                    c = self._contrib.get(a)
                    if c is not None:  # its traffic on the new pivot joins its share
                        _tally(c, rec)
                        c[5] = max(c[5], int(rec[R_N]))
                    self._pending.setdefault(a, []).append(key)
        pending = self._pending
        self._pending = {}
        linked_at = self._linked_at
        epoch = self._pivot_epoch
        for a in sorted(pending):
            keys: Iterable[Pivot]
            if linked_at.get(a) == epoch:
                keys = pending[a]  # the others are linked already
            else:
                keys = self._candidate[a]
                if len({k[0] for k in keys}) < 2:
                    continue
                linked_at[a] = epoch
            via = pivot_kinds.setdefault(a, {})
            for key in keys:
                piv = self.pivots.get(key)
                if piv is None or a in piv.linked:
                    continue
                piv.linked.add(a)
                via[key[0]] = via.get(key[0], 0) + 1
                if piv.anchor is None:
                    piv.anchor = a
                else:
                    uf.union(piv.anchor, a)
            uf.add(a)
        alerts: list[AlertEvent] = entity_alerts
        if self._groups is None or uf.changed:
            self._groups = [sorted(str(a) for a in g) for g in uf.groups().values()]
            uf.changed = False
        tracked = self.accounts
        for group in self._groups:
            if len(group) < st.min_cluster_accounts:
                continue
            # Links outlive an account's state until the next refresh (expired or evicted).
            members = [a for a in group if a in tracked]
            if len(members) < st.min_cluster_accounts:
                continue
            cached = self._cluster_memo.get(members[0])
            if cached is not None and cached[0] == len(members) and now - cached[1] < HOUR_MS:
                ev = cached[2]  # unchanged membership: re-score at most hourly
            else:
                ev = self.linked_evidence(members, now)
                self._cluster_memo[members[0]] = (len(members), now, ev)
            if not ev.suspicious(min_accounts=st.min_cluster_accounts, min_harvest=st.min_harvest):
                continue
            kinds: dict[str, int] = {}
            for a in members:
                for k in pivot_kinds.get(a, {}):
                    kinds[k] = kinds.get(k, 0) + 1
            alerts += self._emit(members, ev, kinds, now, emitted_ms)
        return alerts

    def entity_features(self, p: PivotState, now_ms: int) -> dict[str, float]:
        """Window summary of one pivot entity (24 h view, plus its last hour)."""
        # Not the traffic of partitions running ahead of the tick (Pipeline.tick_clock):
        # the River model would see views out of step with their last hour.
        v = p.sums.view(now_ms=now_ms, until_now=True)
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
        evidence family gets a ``low``/``observe`` entity alert (infrastructure for
        on-call to look at; accounts are only acted on through campaigns).
        """
        out: list[AlertEvent] = []
        for key, p in self.pivots.items():
            model = self.entity_models.get(key[0])
            if model is None or len(p.accounts) < 2:
                continue
            f = self.entity_features(p, now)
            verdict = model.score({**f, "requests": f["requests_24h"]})
            if not verdict.anomalous or f["harvest"] < self.settings.min_harvest:
                continue
            if max(f["youth"], f["mismatch"], f["risky_ip"]) < FAMILY_THRESHOLD:
                continue
            etype = ENTITY_TYPES[key[0]]
            eid = key[1] if etype in ("subnet", "asn") else f"{key[0]}:{key[1]}"
            if not self._entity_dedup.admit((etype, eid), "low", ts_ms=now):
                continue
            reasons = [
                Reason(
                    feature=k,
                    value=round(f[k], 4),
                    baseline=None
                    if verdict.baseline.get(k) is None
                    else round(float(verdict.baseline[k] or 0.0), 4),
                    detail=f"{f[k]:.3g} vs median {verdict.baseline.get(k) or 0:.3g}",
                )
                for k in ("accounts", "harvest", "youth", "mismatch", "risky_ip")
            ]
            out.append(
                AlertEvent(
                    alert_id=alert_id_for(etype, eid, model.name, now - DAY_MS, now),
                    ts_ms=now,
                    emitted_ms=emitted_ms,
                    entity_type=etype,  # type: ignore[arg-type]
                    entity_id=eid,
                    campaign_id=None,
                    severity="low",
                    score=round(verdict.score, 6),
                    detectors=[model.name],
                    reasons=reasons,
                    window_start_ms=now - DAY_MS,
                    window_end_ms=now,
                    evidence={"accounts": len(p.accounts), "requests": int(f["requests_24h"])},
                    action="observe",
                    action_ttl_s=0,
                )
            )
        self._entity_dedup.expire(now_ms=now)
        return out

    def _expire(self, now: int) -> None:
        cutoff = now - DAY_MS
        # Records leave the views, and the contributions that counted them.
        uncount = self._uncount
        for key in [k for k, p in self.pivots.items() if p.last_ts < cutoff]:
            self._drop_pivot(key)
        for key, p in self.pivots.items():
            for a, rec in p.expire(now):
                uncount(a, key, rec)
        self._pivot_epoch += 1
        for key in [k for k, s in self._solo.items() if s[1] < cutoff]:
            del self._solo[key]
        idle = now - _ACCOUNT_IDLE_MS
        for a in [a for a, acc in self.accounts.items() if acc.last_ts < idle]:
            del self.accounts[a]
        for acc in self.accounts.values():
            acc.forget_subnets_before(cutoff)
        self.global_sums.expire(now_ms=now)

    # ---- alerts -----------------------------------------------------------------------------
    def _severity(self, ev: Evidence) -> Severity:
        if ev.families >= 3 and ev.accounts >= 50:
            return "critical"
        if ev.families >= 3 or ev.accounts >= 20:
            return "high"
        return "medium"

    def _reasons(self, ev: Evidence, now: int) -> list[Reason]:
        g = self.global_sums.view(now_ms=now)
        req = g[F_REQ]
        base = {
            "harvest": _ratio(g[F_HARVEST], HARVEST_UNITS * req),
            "youth": _ratio(g[F_YOUNG], g[F_AGE_KNOWN]),
            "mismatch": _ratio(g[F_MISMATCH], req),
            "infrastructure": _ratio(g[F_RISKY], req),
            "coordination": None,
        }
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

    def _campaign_id(self, members: list[str]) -> str:
        votes: dict[str, int] = {}
        for a in members:
            cid = self.accounts[a].campaign_id
            if cid is not None:
                votes[cid] = votes.get(cid, 0) + 1
        if votes:
            return max(sorted(votes), key=lambda c: votes[c])
        return "cmp-" + hashlib.blake2b(members[0].encode(), digest_size=6).hexdigest()

    def _emit(
        self, members: list[str], ev: Evidence, kinds: dict[str, int], now: int, emitted_ms: int
    ) -> list[AlertEvent]:
        cid = self._campaign_id(members)
        severity = self._severity(ev)
        camp = self.campaigns.get(cid)
        out: list[AlertEvent] = []
        new_or_escalated = (
            camp is None
            or _RANK[severity] > _RANK[camp.severity]
            or (len(members) >= 2 * camp.alerted_size and now - camp.last_alert_ms >= HOUR_MS)
        )
        to_alert = []
        for a in members:
            acc = self.accounts[a]
            acc.campaign_id = cid
            if not (
                acc.alerted is not None
                and acc.alerted[0] == cid
                and _RANK[acc.alerted[1]] >= _RANK[severity]
            ):
                to_alert.append(a)
        if not new_or_escalated and not to_alert:
            return out  # nothing new: skip the aggregate work
        total_req = 0
        for a in members:
            total_req += int(self.accounts[a].sums.view(now_ms=now)[F_REQ])
        subnets = {s for a in members for s, _ in self.accounts[a].subnets()}
        reasons = self._reasons(ev, now)
        evidence: dict[str, int | float] = {
            "accounts": len(members),
            "requests": total_req,
            "distinct_subnets": len(subnets),
            "families": ev.families,
            **{f"linked_via_{k}": n for k, n in sorted(kinds.items())},
        }
        start = now - DAY_MS
        if camp is None:
            camp = self.campaigns[cid] = _Campaign(now, severity, 0, now)
        if new_or_escalated:
            out.append(
                self._alert(
                    "campaign",
                    cid,
                    cid,
                    severity,
                    ev.score,
                    start,
                    now,
                    emitted_ms,
                    reasons,
                    evidence,
                )
            )
            camp.alerted_size = len(members)
            camp.last_alert_ms = now
            camp.severity = max(severity, camp.severity, key=lambda s: _RANK[s])
        for a in to_alert:
            acc = self.accounts[a]
            acc.alerted = (cid, severity)
            view = acc.sums.view(now_ms=now)
            out.append(
                self._alert(
                    "account",
                    a,
                    cid,
                    severity,
                    ev.score,
                    start,
                    now,
                    emitted_ms,
                    reasons,
                    {
                        "requests": int(view[F_REQ]),
                        "campaign_accounts": len(members),
                        "campaign_requests": total_req,
                    },
                )
            )
        return out

    def _alert(
        self,
        etype: str,
        eid: str,
        cid: str,
        severity: Severity,
        score: float,
        start: int,
        end: int,
        emitted_ms: int,
        reasons: list[Reason],
        evidence: dict[str, int | float],
    ) -> AlertEvent:
        action, ttl = _ACTION[severity]
        return AlertEvent(
            alert_id=alert_id_for(etype, eid, self.name, start, end),
            ts_ms=end,
            emitted_ms=emitted_ms,
            entity_type=etype,  # type: ignore[arg-type]
            entity_id=eid,
            campaign_id=cid,
            severity=severity,
            score=round(score, 6),
            detectors=[self.name],
            reasons=reasons,
            window_start_ms=start,
            window_end_ms=end,
            evidence=evidence,
            action=action,
            action_ttl_s=ttl,
        )
