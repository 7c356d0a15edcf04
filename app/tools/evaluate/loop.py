"""The closed loop: detection → enforcement → the campaign grows new heads.

The open-loop evaluation replays a fixed stream. Here the simulator also plays the
rate-limiter and the operator:

- **enforcement**: every alert the stages emit goes through the reference enforcement
  list (:class:`~app.enforce.store.EnforcementStore`, the rules of ``docs/alerts.md``),
  ``enforce_delay_ms`` after its event time (3 min: the watermark's 60 s grace, the
  batch that closes the tick, publication and the enforcer's poll; an alert that comes
  out of the stages later is applied when it does, and counted as late). A blocked
  account's requests are refused; a throttled one's are served one in
  ``1 / throttle_served_share`` (a deterministic draw per request); ``verify`` and
  ``observe`` are served (no challenge is modelled).
- **regrowth**: a campaign account that is blocked or throttled is replaced after a
  delay drawn from its campaign's :class:`~app.tools.simulate.scenario.RegrowSpec`
  (``delay_h``). The new account ("head") takes over the rest of its schedule — the
  old one stops once its replacement runs — either on the same infrastructure (same
  payment method, proxies, client fingerprint and prompt templates; share
  ``reuse_share``) or on fresh ones (new payment fingerprint, TLS fingerprint, /24s,
  templates); a lineage grows at most ``max_heads`` heads.

Detection runs the same in-process stages as ``detect`` (:class:`LocalTopology`), batch
by batch in event time, so the loop is deterministic for a scenario, seed and scale —
and the same for any number of account partitions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.events import AlertEvent, RequestEvent, validate_event
from app.core.settings import DetectionSettings
from app.core.stages.local import LocalTopology
from app.core.stages.partitioner import account_partitioner
from app.core.verdicts import Verdict, VerdictBook
from app.enforce.store import EnforcementStore
from app.tools.simulate.emit import Columns, columns_for, event_dict
from app.tools.simulate.plan import AccountPlan, Endpoint
from app.tools.simulate.run import build
from app.tools.simulate.scenario import RegrowSpec, Scenario

__all__ = ["CampaignLoop", "HeadRecord", "LoopReport", "run_closed_loop"]

_HOUR_MS = 3_600_000
_ENFORCING = frozenset({"throttle", "block"})


@dataclass(slots=True)
class HeadRecord:
    """One replacement account."""

    account_id: str
    campaign_id: str
    reuses_infrastructure: bool
    generation: int
    first_ms: int | None = None
    #: first alert naming it (any action but observe)
    flagged_ms: int | None = None
    #: first enforcing action on it
    enforced_ms: int | None = None


@dataclass(slots=True)
class CampaignLoop:
    campaign_id: str
    group: str
    accounts: int = 0
    heads: int = 0
    heads_reusing: int = 0
    requests_attempted: int = 0
    requests_served: int = 0
    requests_refused: int = 0
    first_detection_ms: int | None = None
    served_after_detection: int = 0
    #: what the exchanges served after the first detection were: ``original|head`` and
    #: the account's list status when served (``none``, ``verify``, ``throttle``)
    served_after_by: dict[str, int] = field(default_factory=dict)

    #: enforcing alerts on its accounts, and the event time of the last one
    enforcing_alerts: int = 0
    last_enforcing_ms: int | None = None
    #: the detector's campaign ids on alerts about its accounts, first seen first (≤ 10)
    detected_as: list[str] = field(default_factory=list)
    #: its accounts (original or head) whose first request came after the first
    #: detection: each of them is served at least that request before any detector can
    #: have seen it
    accounts_after_detection: int = 0

    @property
    def leakage(self) -> float:
        """Exchanges served after the first detection, over all it attempted in the run."""
        n = self.requests_attempted
        return self.served_after_detection / n if n else 0.0

    @property
    def leakage_floor(self) -> float:
        """One exchange per account that started after the first detection, over all."""
        n = self.requests_attempted
        return self.accounts_after_detection / n if n else 0.0


@dataclass(slots=True)
class LoopReport:
    scenario: str
    seed: int
    scale: float
    partitions: int
    events_attempted: int = 0
    events_served: int = 0
    alerts: int = 0
    #: alerts that came out of the stages after their event time + ``enforce_delay_ms``
    late_alerts: int = 0
    #: enforcing alerts on subjects a benign verdict allowed by then: within the verdict's
    #: first tick (allowed), and after it (must be 0)
    enforcing_allowed_first_tick: int = 0
    enforcing_allowed_after: int = 0
    #: alerts that named a benign verdict (suppressed to observe)
    suppressed: int = 0
    campaigns: dict[str, CampaignLoop] = field(default_factory=dict)
    heads: list[HeadRecord] = field(default_factory=list)
    benign_accounts: int = 0
    benign_enforced: int = 0
    benign_refused: int = 0
    #: alert ids in order (the invariance check compares them across partition counts)
    alert_digest: str = ""
    seconds: float = 0.0

    def head_delays(self, *, reuse: bool) -> list[float]:
        """Minutes from each head's first request to its first alert (flagged heads)."""
        return sorted(
            (h.flagged_ms - h.first_ms) / 60_000
            for h in self.heads
            if h.reuses_infrastructure == reuse and h.first_ms is not None and h.flagged_ms
        )

    def head_summary(self, *, reuse: bool) -> dict[str, Any]:
        started = [
            h for h in self.heads if h.reuses_infrastructure == reuse and h.first_ms is not None
        ]
        delays = self.head_delays(reuse=reuse)
        within = sum(1 for d in delays if d <= 60)
        return {
            "heads": len(started),
            "flagged": len(delays),
            "median_min": float(np.median(delays)) if delays else None,
            "p90_min": float(np.quantile(delays, 0.9)) if delays else None,
            "flagged_within_1h": within / len(started) if started else None,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "scale": self.scale,
            "partitions": self.partitions,
            "events_attempted": self.events_attempted,
            "events_served": self.events_served,
            "alerts": self.alerts,
            "late_alerts": self.late_alerts,
            "verdicts": {
                "suppressed_alerts": self.suppressed,
                "enforcing_on_allowed_first_tick": self.enforcing_allowed_first_tick,
                "enforcing_on_allowed_after_first_tick": self.enforcing_allowed_after,
            },
            "alert_digest": self.alert_digest,
            "benign": {
                "accounts": self.benign_accounts,
                "enforced": self.benign_enforced,
                "requests_refused": self.benign_refused,
            },
            "heads_reusing": self.head_summary(reuse=True),
            "heads_fresh": self.head_summary(reuse=False),
            "campaigns": {
                cid: {
                    **dataclasses.asdict(c),
                    "leakage": c.leakage,
                    "leakage_floor": c.leakage_floor,
                }
                for cid, c in sorted(self.campaigns.items())
            },
            "seconds": round(self.seconds, 1),
        }


def _fresh_ip(rng: np.random.Generator, ip: str) -> str:
    if ":" in ip:  # IPv6: a fresh /48
        return f"2001:db8:{int(rng.integers(0, 0xFFFF)):x}::{int(rng.integers(1, 0xFFFF)):x}"
    a = int(rng.integers(11, 224))
    b, c, d = (int(x) for x in rng.integers(0, 256, size=3))
    return f"{a}.{b}.{c}.{max(d, 1)}"


def _fresh_hash(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(0, 2**62)):016x}"


class _Loop:
    def __init__(
        self,
        scenario: Scenario,
        *,
        scale: float,
        partitions: int,
        settings: DetectionSettings,
        enforce_delay_ms: int,
        throttle_served_share: float,
        batch_ms: int,
        verdicts: list[Verdict],
    ) -> None:
        self.scenario = scenario
        sim = build(scenario, scale=scale)
        self.plans: list[AccountPlan] = list(sim.plans)
        self.regrow: dict[str, RegrowSpec] = {
            c.id: c.regrow or RegrowSpec() for c in scenario.campaigns
        }
        self._rng = np.random.default_rng(sim.seed + 1)  # the columns' draws, as iter_events
        self._heads_rng = np.random.default_rng(sim.seed + 7919)
        self.cols: list[Columns] = [columns_for(self._rng, p) for p in self.plans]
        self.heap = [(c.ts[0], i, 0) for i, c in enumerate(self.cols) if c.ts]
        heapq.heapify(self.heap)
        self.now_ms = scenario.start_ms
        self.topo = LocalTopology(
            settings,
            account_partitions=partitions,
            clock=lambda: self.now_ms,
            verdicts=VerdictBook(verdicts),
        )
        self.part = account_partitioner(partitions)
        self.partitions = partitions
        self.store = EnforcementStore(":memory:")
        self.enforce_delay_ms = enforce_delay_ms
        self.throttle_every = (
            max(1, round(1 / throttle_served_share)) if throttle_served_share else 0
        )
        self.batch_ms = batch_ms
        self.seed_tag = f"{sim.seed:x}"
        self.n = 0
        #: alerts not yet applied to the enforcement list: (apply at ms, seq, alert)
        self.queued: list[tuple[int, int, AlertEvent]] = []
        self._seq = 0
        self.status: dict[str, str] = {}
        #: plan index → replaced (its requests stop)
        self.stopped: set[int] = set()
        #: plan index → the lineage's generation (0: original)
        self.generation: dict[int, int] = {}
        self.replaced: set[int] = set()
        self.head_of: dict[str, HeadRecord] = {}
        self.by_account: dict[str, int] = {p.account_id: i for i, p in enumerate(self.plans)}
        self.report = LoopReport(
            scenario=scenario.name, seed=sim.seed, scale=scale, partitions=partitions
        )
        for p in self.plans:
            if p.campaign_id is not None:
                c = self._campaign(p)
                c.accounts += 1
            else:
                self.report.benign_accounts += 1
        self.enforced_benign: set[str] = set()
        #: campaign account → its first request
        self._first: dict[str, int] = {}
        #: (campaign, 6 h wave) → old indicator → the fresh one that replaces it
        self._fresh: dict[tuple[str, int], dict[str, str]] = {}
        #: plan index → first request of its replacement (it stops from then on)
        self._successor_start: dict[int, int] = {}
        self.digest = hashlib.blake2b(digest_size=12)

    def _campaign(self, p: AccountPlan) -> CampaignLoop:
        assert p.campaign_id is not None
        c = self.report.campaigns.get(p.campaign_id)
        if c is None:
            c = self.report.campaigns[p.campaign_id] = CampaignLoop(p.campaign_id, p.group)
        return c

    # ---- enforcement -----------------------------------------------------------------
    def _apply_alerts(self, until_ms: int) -> None:
        q = self.queued
        changed = False
        while q and q[0][0] <= until_ms:
            _, _, alert = heapq.heappop(q)
            changed |= self.store.apply(alert, commit=False)
        if changed:
            self.store.commit()
        now_s = until_ms / 1000
        self.status = {
            e.entity_id: e.action
            for e in self.store.active(now_s=now_s)
            if e.entity_type == "account"
        }

    def _take_alerts(self, alerts: list[AlertEvent]) -> None:
        rep = self.report
        book = self.topo.verdicts
        tick = self.topo.settings.linkage_tick_ms
        for a in alerts:
            rep.alerts += 1
            self.digest.update(a.alert_id.encode())
            rep.suppressed += a.verdict_id is not None
            if a.action in _ENFORCING and len(book):
                i = self.by_account.get(a.entity_id) if a.entity_type == "account" else None
                org = self.plans[i].org_id if i is not None else None
                v = book.benign("campaign", a.campaign_id, at_ms=a.ts_ms) or (
                    book.allowed_account(a.entity_id, org, at_ms=a.ts_ms)
                    if a.entity_type == "account"
                    else None
                )
                if v is not None:
                    if a.ts_ms < v.issued_ms + tick:
                        rep.enforcing_allowed_first_tick += 1
                    else:
                        rep.enforcing_allowed_after += 1
            # applied at its event time plus the delay, whenever it came out of the stages
            # (so the loop does not depend on how fast watermarks moved); one that came out
            # later than that is applied at once and counted
            at = a.ts_ms + self.enforce_delay_ms
            if at < self.now_ms:
                at = self.now_ms
                rep.late_alerts += 1
            self._seq += 1
            heapq.heappush(self.queued, (at, self._seq, a))
            if a.entity_type != "account" or a.action == "observe":
                continue
            i = self.by_account.get(a.entity_id)
            if i is None:
                continue
            p = self.plans[i]
            if p.campaign_id is None:
                if a.action in _ENFORCING:
                    self.enforced_benign.add(a.entity_id)
                continue
            c = self._campaign(p)
            if a.campaign_id and a.campaign_id not in c.detected_as and len(c.detected_as) < 10:
                c.detected_as.append(a.campaign_id)
            if a.action in _ENFORCING:
                c.enforcing_alerts += 1
                c.last_enforcing_ms = max(c.last_enforcing_ms or a.ts_ms, a.ts_ms)
            if c.first_detection_ms is None or a.ts_ms < c.first_detection_ms:
                c.first_detection_ms = a.ts_ms
            h = self.head_of.get(p.account_id)
            if h is not None:
                if h.flagged_ms is None:
                    h.flagged_ms = a.ts_ms
                if a.action in _ENFORCING and h.enforced_ms is None:
                    h.enforced_ms = a.ts_ms

    # ---- regrowth --------------------------------------------------------------------
    def _regrow(self, i: int, now_ms: int) -> None:
        """Plan ``i`` was found enforced at ``now_ms``: schedule its replacement."""
        if i in self.replaced:
            return
        self.replaced.add(i)
        p = self.plans[i]
        assert p.campaign_id is not None
        spec = self.regrow.get(p.campaign_id, RegrowSpec())
        gen = self.generation.get(i, 0) + 1
        if gen > spec.max_heads:
            return
        rng = self._heads_rng
        lo, hi = spec.delay_h
        start = now_ms + int((lo + (hi - lo) * rng.random()) * _HOUR_MS)
        c = self.cols[i]
        rest = [t for t in c.ts if t >= start]
        if not rest:
            return
        reuse = bool(rng.random() < spec.reuse_share)
        traffic = p.alt_traffic if p.alt_traffic is not None else p.traffic
        endpoints = p.alt_endpoints if p.alt_traffic is not None else p.endpoints
        payment, tls = p.payment_fingerprint, p.tls_ja4
        if not reuse:
            # the wave's fresh infrastructure: one per campaign and 6 h of replacements,
            # shared by that wave's heads as the original accounts shared theirs
            fresh = self._fresh.setdefault((p.campaign_id, start // (6 * _HOUR_MS)), {})

            def new(kind: str, old: str, make: Callable[[], str]) -> str:
                key = f"{kind}:{old}"
                got = fresh.get(key)
                if got is None:
                    got = fresh[key] = make()
                return got

            def moved(e: Endpoint) -> Endpoint:
                if ":" in e.ip:
                    ip = new("net6", e.ip, lambda: _fresh_ip(rng, e.ip))
                else:  # the same host in the /24 that replaces its /24
                    net, host = e.ip.rsplit(".", 1)
                    ip = new("net", net, lambda: _fresh_ip(rng, e.ip).rsplit(".", 1)[0])
                    ip = f"{ip}.{host}"
                return Endpoint(ip, e.asn, e.ip_kind, e.country)

            endpoints = tuple(moved(e) for e in endpoints)
            traffic = dataclasses.replace(
                traffic,
                templates=tuple(new("tpl", t, lambda: _fresh_hash(rng)) for t in traffic.templates),
                simhash_bases=tuple(
                    int(new("sim", str(b), lambda: str(int(rng.integers(0, 2**63)))))
                    for b in traffic.simhash_bases
                ),
            )
            if payment is not None:
                payment = new("pay", payment, lambda: f"pm_{_fresh_hash(rng)}")
            if tls is not None:
                tls = new(
                    "tls",
                    tls,
                    lambda: f"t13d1516h2_{_fresh_hash(rng)[:12]}_{_fresh_hash(rng)[:12]}",
                )
        account = f"{p.account_id}-h{gen}"
        head = dataclasses.replace(
            p,
            account_id=account,
            created_ms=start - int(rng.integers(0, 6 * _HOUR_MS)),
            org_id=None,
            api_keys=tuple(f"key-{_fresh_hash(rng)}" for _ in p.api_keys),
            payment_fingerprint=(
                p.payment_fingerprint
                if reuse or p.payment_fingerprint is None
                else f"pm_{_fresh_hash(rng)}"
            ),
            tls_ja4=(
                p.tls_ja4
                if reuse or p.tls_ja4 is None
                else f"t13d1516h2_{_fresh_hash(rng)[:12]}_{_fresh_hash(rng)[:12]}"
            ),
            endpoints=endpoints,
            endpoint_mode=p.endpoint_mode if p.alt_traffic is None else "random",
            traffic=traffic,
            ts_ms=np.array(rest, dtype=np.int64),
            alt_traffic=None,
            alt_endpoints=(),
            alt_mask=None,
        )
        j = len(self.plans)
        self.plans.append(head)
        self.cols.append(columns_for(rng, head))
        self.by_account[account] = j
        self.generation[j] = gen
        heapq.heappush(self.heap, (rest[0], j, 0))
        rec = HeadRecord(account, p.campaign_id, reuse, gen)
        self.head_of[account] = rec
        self.report.heads.append(rec)
        camp = self._campaign(p)
        camp.heads += 1
        camp.heads_reusing += reuse
        self._successor_start[i] = rest[0]

    # ---- the run -----------------------------------------------------------------------
    def run(self) -> LoopReport:
        t0 = time.perf_counter()
        rep = self.report
        batch: list[list[RequestEvent]] = [[] for _ in range(self.partitions)]
        boundary = self.scenario.start_ms + self.batch_ms
        heap = self.heap
        while heap:
            ts, i, j = heap[0]
            if ts >= boundary:
                self._flush(batch, boundary)
                batch = [[] for _ in range(self.partitions)]
                boundary = (ts // self.batch_ms + 1) * self.batch_ms
                continue
            heapq.heappop(heap)
            c = self.cols[i]
            p = self.plans[i]
            nxt = self._successor_start.get(i)
            if nxt is not None and ts >= nxt:
                continue  # its replacement runs now: the old account stops
            if j + 1 < len(c.ts):
                heapq.heappush(heap, (c.ts[j + 1], i, j + 1))
            self.n += 1
            ev = event_dict(c, p, j, f"loop-{self.seed_tag}-{self.n:09d}")
            rep.events_attempted += 1
            camp = self._campaign(p) if p.campaign_id is not None else None
            head = self.head_of.get(p.account_id)
            if head is not None and head.first_ms is None:
                head.first_ms = ts
            action = self.status.get(p.account_id)
            served = action != "block" and (
                action != "throttle" or (self.throttle_every and self.n % self.throttle_every == 0)
            )
            if camp is not None:
                camp.requests_attempted += 1
                self._first.setdefault(p.account_id, ts)
                if action in _ENFORCING:
                    self._regrow(i, ts)
            if not served:
                if camp is not None:
                    camp.requests_refused += 1
                else:
                    rep.benign_refused += 1
                continue
            rep.events_served += 1
            if camp is not None:
                camp.requests_served += 1
                if camp.first_detection_ms is not None and ts > camp.first_detection_ms:
                    camp.served_after_detection += 1
                    k = f"{'head' if head is not None else 'original'}:{action or 'none'}"
                    camp.served_after_by[k] = camp.served_after_by.get(k, 0) + 1
            e = validate_event(ev)
            batch[self.part(e.account_id)].append(e)
        self._flush(batch, boundary)
        self._take_alerts(self.topo.finish())
        for account, first in self._first.items():
            camp = self._campaign(self.plans[self.by_account[account]])
            if camp.first_detection_ms is not None and first > camp.first_detection_ms:
                camp.accounts_after_detection += 1
        rep.benign_enforced = len(self.enforced_benign)
        rep.alert_digest = self.digest.hexdigest()
        rep.seconds = time.perf_counter() - t0
        self.store.close()
        return rep

    def _flush(self, batch: list[list[RequestEvent]], boundary: int) -> None:
        self.now_ms = boundary
        work = [(p, evs) for p, evs in enumerate(batch) if evs]
        if work:
            self._take_alerts(self.topo.process(work))
        self._apply_alerts(boundary)


def run_closed_loop(
    scenario: Scenario,
    *,
    scale: float,
    partitions: int = 4,
    settings: DetectionSettings | None = None,
    enforce_delay_ms: int = 180_000,
    throttle_served_share: float = 0.1,
    batch_ms: int = 60_000,
    verdicts: list[Verdict] | None = None,
    on_progress: Callable[[LoopReport], None] | None = None,
) -> LoopReport:
    """Run ``scenario`` with enforcement and regrowth; the report."""
    loop = _Loop(
        scenario,
        scale=scale,
        partitions=partitions,
        settings=settings or DetectionSettings(),
        enforce_delay_ms=enforce_delay_ms,
        throttle_served_share=throttle_served_share,
        batch_ms=batch_ms,
        verdicts=verdicts or [],
    )
    rep = loop.run()
    if on_progress is not None:
        on_progress(rep)
    return rep
