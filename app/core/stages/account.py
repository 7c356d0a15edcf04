"""The account stage: everything keyed by account, for one input partition.

Per event (in the partition's order): drop repeated ``event_id``s, drop events at or
behind the partition's watermark (late), add to the account's tumbling window and its
24 h view, and add the request's values to the account's observation of every pivot
the request carries, for the linkage-tick bucket it falls in. When the watermark
passes a bucket's end its observations go, in bucket and then arrival order, to the
pivot partitions that own them — one per pivot, account and bucket, whatever the
batches were. Closed windows are scored by the partition's River model and become
account alerts when harvest-like traffic comes with one more evidence family.

Trust (:mod:`app.core.alerts.trust`): at an account's first request of each event hour the
stage decides its trust level from that request and the account's 24 h view so far
(an aged org account; an aged account with a normal history; neither). The level
lowers the severity of the account's own alerts and travels, per observation (the
lowest over its requests), to the campaign stage, which does the same for member
alerts.

The watermark is robust to outliers: it follows the ``k``-th newest event time seen
(``watermark_rank``), minus the grace period, so a single event far ahead of the
others (a skewed client clock) cannot make the next real-time events late; that event
itself is processed normally and counted downstream when time reaches it.

Every call returns one :class:`~app.core.stages.records.PivotInput` per pivot partition
(the watermark reaches every one of them, with or without observations).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.core.alerts import (
    ACTION_FOR_SEVERITY,
    TRUST_HISTORY,
    TRUST_NONE,
    TRUST_ORG,
    Deduper,
    build_alert,
    with_trust,
)
from app.core.campaigns.evidence import FAMILY_THRESHOLD
from app.core.campaigns.values import (
    ACCOUNT_FIELDS,
    F_AGE_KNOWN,
    F_HARVEST,
    F_MISMATCH,
    F_REQ,
    F_RISKY,
    F_YOUNG,
    card_tag,
    narrow,
    pivots_of,
    request_values,
    widen,
)
from app.core.campaigns.values import org_tag as org_tag_of
from app.core.detectors import AccountWindowDetector
from app.core.events import AlertEvent, RequestEvent
from app.core.events.request import subnet_of
from app.core.features import AccountWindow, account_features
from app.core.features.request import HARVEST_UNITS, request_signals
from app.core.settings import DetectionSettings
from app.core.stages.records import Observation, PivotInput, partition_for
from app.core.verdicts import VerdictBook, suppressed
from app.core.windows import SlidingSums, TumblingWindows
from app.core.windows.sliding import DAY_MS, HOUR_MS, TEN_MIN_MS

__all__ = ["AccountOutput", "AccountStage"]

_ROUTE_CACHE_MAX = 500_000
_CARD_CACHE_MAX = 100_000


@dataclass(slots=True)
class AccountOutput:
    alerts: list[AlertEvent] = field(default_factory=list)
    #: pivot partition → the record for it
    pivot_inputs: dict[int, PivotInput] = field(default_factory=dict)
    accepted: int = 0
    late: int = 0
    duplicates: int = 0
    windows_closed: int = 0
    scores: list[float] = field(default_factory=list)


class AccountStage:
    """State of one account (input) partition."""

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        partition: int,
        pivot_partitions: int,
        verdicts: VerdictBook | None = None,
    ) -> None:
        self.settings = settings
        self.partition = partition
        #: the verdicts in force (shared by the worker's stages; not part of the state)
        self.verdicts = verdicts if verdicts is not None else VerdictBook()
        #: account → its org_id (accounts with one: a benign org verdict covers them)
        self.org_of: dict[str, str] = {}
        self.pivot_partitions = pivot_partitions
        self.windows: TumblingWindows[str, AccountWindow] = TumblingWindows(
            window_ms=settings.window_ms,
            grace_ms=settings.grace_ms,
            factory=AccountWindow,
            external_clock=True,
        )
        self.detector = AccountWindowDetector(settings)
        self.dedup = Deduper(cooldown_ms=settings.cooldown_ms)
        #: account → 24 h view over hourly buckets (requests, harvest, mismatch, young,
        #: risky, age known)
        self.accounts: dict[str, SlidingSums] = {}
        self.seen: dict[str, int] = {}
        #: account → ``event hour << 2 | trust level`` decided at its first request of
        #: that hour (one int per account, not a tuple)
        self.trust: dict[str, int] = {}
        #: the ``watermark_rank`` newest event times (a min-heap)
        self._newest: list[int] = []
        #: population sums (widened) per open 10-minute bucket (sent to pivot partition 0
        #: when closed)
        self._totals: dict[int, int] = {}
        #: bucket end → account → pivot → [first ts, last ts, subnet tag of the last
        #: request, lowest trust level, widened value sums, org tag, card tag of the
        #: last request]: the observations not yet
        #: closed by the watermark
        #: (insertion order follows the partition's event order, so the stream of
        #: observations sent is the same on a replay)
        self._open: dict[int, dict[str, dict[str, list[int]]]] = {}
        self._route: dict[str, int] = {}
        #: payment fingerprint → :func:`card_tag` (a cache)
        self._cards: dict[str, int] = {}
        #: per pivot partition, the sequence number of the next observation sent to it
        self.sent: list[int] = [0] * pivot_partitions
        self.evicted = 0
        self._last_sweep_ms = 0

    @property
    def max_event_ts_ms(self) -> int | None:
        """The event time the watermark follows (``k``-th newest seen)."""
        newest = self._newest
        return newest[0] if len(newest) >= self.settings.watermark_rank else None

    @property
    def watermark_ms(self) -> int | None:
        t = self.max_event_ts_ms
        return None if t is None else t - self.settings.grace_ms

    def _see_time(self, ts: int) -> None:
        newest = self._newest
        if len(newest) < self.settings.watermark_rank:
            heapq.heappush(newest, ts)
        elif ts > newest[0]:
            heapq.heapreplace(newest, ts)
        else:
            return
        t = self.max_event_ts_ms
        if t is not None:
            self.windows.advance_to(t)

    def account_view(self, account_id: str, now_ms: int) -> dict[str, float] | None:
        """24 h evidence of one account (None if unknown)."""
        sums = self.accounts.get(account_id)
        if sums is None:
            return None
        v = sums.view(now_ms=now_ms)
        req = v[F_REQ]
        return {
            "requests": req,
            "harvest": v[F_HARVEST] / (HARVEST_UNITS * req) if req else 0.0,
            "mismatch": v[F_MISMATCH] / req if req else 0.0,
            "young": v[F_YOUNG] / v[F_AGE_KNOWN] if v[F_AGE_KNOWN] else 0.0,
            "risky_ip": v[F_RISKY] / req if req else 0.0,
        }

    def normal_history(self, sums: SlidingSums, now_ms: int) -> bool:
        """A normal 24 h history: at least ``trust_min_history_requests`` requests, a
        harvest score below the campaign member gate (``member_min_harvest``), and no
        billing/IP mismatch or risky-infrastructure family (shares below 0.5)."""
        st = self.settings
        v = sums.view(now_ms=now_ms)
        req = v[F_REQ]
        return (
            req >= st.trust_min_history_requests
            and v[F_HARVEST] < st.member_min_harvest * HARVEST_UNITS * req
            and v[F_MISMATCH] < FAMILY_THRESHOLD * req
            and v[F_RISKY] < FAMILY_THRESHOLD * req
        )

    def trust_level(self, e: RequestEvent, sums: SlidingSums) -> int:
        """The account's trust level for the hour of ``e`` (decided at its first request
        of the hour, from that request and the 24 h view before it)."""
        st = self.settings
        ts = e.ts_ms
        created = e.account_created_ms
        if created is None or ts - created < st.trust_min_account_age_days * DAY_MS:
            return TRUST_NONE
        if e.org_id is not None:
            return TRUST_ORG
        return TRUST_HISTORY if self.normal_history(sums, ts) else TRUST_NONE

    def process(self, events: Iterable[RequestEvent], *, emitted_ms: int) -> AccountOutput:
        """Apply events in the partition's order; alerts and one record per pivot partition."""
        out = AccountOutput()
        st = self.settings
        windows = self.windows
        seen = self.seen
        cap = st.max_dedupe_ids
        accounts = self.accounts
        totals = self._totals
        open_obs = self._open
        tick_ms = st.linkage_tick_ms
        trusts = self.trust
        use_trust = st.trust
        book = self.verdicts
        org_verdicts = book.has("benign", "org")
        org_of = self.org_of
        cards = self._cards
        for e in events:
            if e.event_id in seen:
                out.duplicates += 1
                continue
            wm = self.watermark_ms
            ts = e.ts_ms
            if wm is not None and ts <= wm:
                out.late += 1
                continue
            self._see_time(ts)
            if windows.ready:
                self._score(windows.close_ready(), out, emitted_ms)
            if cap:
                seen[e.event_id] = ts
                if len(seen) > cap:
                    del seen[next(iter(seen))]
            s = request_signals(e)
            values = request_values(e, s)
            account = e.account_id
            acc = accounts.get(account)
            if acc is None:
                if len(accounts) >= st.max_tracked_accounts:
                    gone = next(iter(accounts))
                    del accounts[gone]
                    trusts.pop(gone, None)
                    org_of.pop(gone, None)
                    self.evicted += 1
                acc = accounts[account] = SlidingSums(
                    n_fields=ACCOUNT_FIELDS, bucket_ms=HOUR_MS, horizon_ms=DAY_MS
                )
            trust = TRUST_NONE
            if use_trust:
                hour = ts // HOUR_MS
                known = trusts.get(account)
                if known is not None and known >> 2 == hour:
                    trust = known & 3
                else:
                    trust = self.trust_level(e, acc)
                    trusts[account] = hour << 2 | trust
            acc.add(ts, values[:ACCOUNT_FIELDS])
            wide = widen(values)
            bucket = ts - ts % TEN_MIN_MS
            totals[bucket] = totals.get(bucket, 0) + wide
            subnet = subnet_of(e.client_ip)
            tag = zlib.crc32(subnet.encode()) & 0x7FFFFFFF
            # a long-standing org's accounts count as one customer on a pivot, and so do
            # an allowed org's (benign verdict): the campaign stage knows them by the tag
            org = e.org_id
            if org is not None:
                if org_of.get(account) != org:
                    org_of[account] = org
                if trust != TRUST_ORG and not (
                    org_verdicts and book.benign("org", org, at_ms=ts) is not None
                ):
                    org = None
            org_tag = 0 if org is None else org_tag_of(org)
            fp = e.payment_fingerprint
            card = 0
            if fp:
                card = cards.get(fp, 0)
                if not card:
                    if len(cards) >= _CARD_CACHE_MAX:
                        cards.clear()
                    card = cards[fp] = card_tag(fp)
            end = ts - ts % tick_ms + tick_ms
            by_account = open_obs.get(end)
            if by_account is None:
                by_account = open_obs[end] = {}
            cur = by_account.get(account)
            if cur is None:
                cur = by_account[account] = {}
            for key in pivots_of(e, s, subnet):
                agg = cur.get(key)
                if agg is None:
                    cur[key] = [ts, ts, tag, trust, wide, org_tag, card]
                    continue
                if ts < agg[0]:
                    agg[0] = ts
                if ts > agg[1] or (
                    ts == agg[1] and (tag, org_tag, card) > (agg[2], agg[5], agg[6])
                ):
                    agg[1] = ts
                    agg[2] = tag
                    agg[5] = org_tag
                    agg[6] = card
                if trust < agg[3]:
                    agg[3] = trust
                agg[4] += wide
            windows.add(account, ts).add(  # type: ignore[union-attr]
                ts_ms=ts,
                client_ip=e.client_ip,
                prompt_tokens=e.prompt_tokens,
                completion_tokens=e.completion_tokens,
                max_tokens=e.max_tokens,
                status=e.status,
            )
            out.accepted += 1
        self._score(windows.close_ready(), out, emitted_ms)
        self._forget_seen()
        self._emit(out)
        return out

    def _emit(self, out: AccountOutput) -> None:
        wm = self.watermark_ms
        closed: list[list[int]] = []
        per_q: list[list[Observation]] = [[] for _ in range(self.pivot_partitions)]
        if wm is not None:
            for b in sorted(b for b in self._totals if b + TEN_MIN_MS <= wm):
                closed.append([b, *narrow(self._totals.pop(b))])
            route = self._route
            q_n = self.pivot_partitions
            for end in sorted(e for e in self._open if e <= wm):
                for account, mine in self._open.pop(end).items():
                    for key, (first, last, tag, trust, wide, org_tag, card) in mine.items():
                        q = route.get(key)
                        if q is None:
                            if len(route) >= _ROUTE_CACHE_MAX:
                                route.clear()
                            q = route[key] = partition_for(key, q_n)
                        per_q[q].append(
                            [
                                end,
                                key,
                                account,
                                end - first,
                                end - last,
                                tag,
                                trust,
                                org_tag,
                                card,
                                *narrow(wide),
                            ]
                        )
        sent = self.sent
        for q, obs in enumerate(per_q):
            out.pivot_inputs[q] = PivotInput(
                source=self.partition,
                watermark_ms=wm,
                first_seq=sent[q],
                obs=obs,
                totals=closed if q == 0 else [],
            )
            sent[q] += len(obs)

    def idle_records(self) -> dict[int, PivotInput]:
        """Tell every pivot partition this partition is caught up and quiet."""
        return {
            q: PivotInput(self.partition, None, self.sent[q], [], [], idle=True)
            for q in range(self.pivot_partitions)
        }

    def flush(self, *, until_ms: int, emitted_ms: int) -> AccountOutput:
        """End of a finite input: close every window and move the watermark to ``until_ms``."""
        out = AccountOutput()
        self._score(self.windows.close_all(), out, emitted_ms)
        self._newest = [until_ms + self.settings.grace_ms] * self.settings.watermark_rank
        self._emit(out)
        return out

    def _forget_seen(self) -> None:
        seen = self.seen
        t = self.max_event_ts_ms
        if not seen or t is None:
            return
        horizon = t - self.settings.dedupe_window_ms
        stale = []
        for event_id, ts in seen.items():
            if ts >= horizon:
                break
            stale.append(event_id)
        for event_id in stale:
            del seen[event_id]

    def _harvest_gate(self, account_id: str, now_ms: int) -> bool:
        """Per-account anomalies alert only with harvest-like traffic plus
        ``account_alert_min_families`` (2) families of the account's own — one is what a
        heavy user of a harvest-like tool on a cloud dev box has; a long-standing org
        account needs one more: its own volume bursts from cloud egress are an eval
        harness's shape, not a campaign's."""
        if not self.settings.account_alerts_need_harvest:
            return True
        v = self.account_view(account_id, now_ms)
        if v is None or v["harvest"] < self.settings.min_harvest:
            return False
        known = self.trust.get(account_id)
        need = self.settings.account_alert_min_families
        if known is not None and known & 3 == TRUST_ORG:
            need += 1
        families = sum(v[k] >= FAMILY_THRESHOLD for k in ("young", "mismatch", "risky_ip"))
        return families >= need

    def _score(
        self,
        closed: Iterator[tuple[int, str, AccountWindow]],
        out: AccountOutput,
        emitted_ms: int,
    ) -> None:
        window_ms = self.settings.window_ms
        last_end: int | None = None
        for start, account_id, state in closed:
            out.windows_closed += 1
            end = start + window_ms
            last_end = end
            features = account_features(state)
            verdict = self.detector.score(features)
            out.scores.append(verdict.score)
            if not verdict.anomalous or not self._harvest_gate(account_id, end):
                continue
            alert = build_alert(
                entity_type="account",
                entity_id=account_id,
                detector=self.detector.name,
                score=verdict.score,
                threshold=verdict.threshold,
                window_start_ms=start,
                window_end_ms=end,
                ts_ms=end,
                emitted_ms=emitted_ms,
                features=features,
                baseline=verdict.baseline,
                evidence={
                    "requests": state.requests,
                    "prompt_tokens": state.prompt_tokens,
                    "completion_tokens": state.completion_tokens,
                    "distinct_ips": state.distinct_ips,
                },
            )
            known = self.trust.get(account_id)
            if known is not None:
                alert = with_trust(
                    alert,
                    trust=known & 3,
                    actions=ACTION_FOR_SEVERITY,
                    min_age_days=self.settings.trust_min_account_age_days,
                )
            allow = self.verdicts.allowed_account(
                account_id, self.org_of.get(account_id), at_ms=end
            )
            if allow is not None and alert.action != "observe":
                alert = suppressed(alert, allow)
            if self.dedup.admit(("account", account_id), alert.severity, ts_ms=end):
                out.alerts.append(alert)
        if last_end is not None:
            self.dedup.expire(now_ms=last_end)
            if last_end - self._last_sweep_ms >= HOUR_MS:  # accounts idle for 2 days leave
                self._last_sweep_ms = last_end
                cutoff = last_end - 2 * DAY_MS
                for a in [a for a, s in self.accounts.items() if (s.last_bucket_ms or 0) < cutoff]:
                    del self.accounts[a]
                    self.trust.pop(a, None)
                    self.org_of.pop(a, None)

    def sizes(self) -> dict[str, int]:
        return {"accounts": len(self.accounts), "open_windows": self.windows.open_windows}
