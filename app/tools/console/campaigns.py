"""Campaign view models, built from the alerts alone (plus the link index, when read).

A campaign is every alert carrying its ``campaign_id``: its own (``entity_type
"campaign"``, sent when it appears, escalates or doubles) and its members' account
alerts (sent when a member joins or its severity rises). Its current state is the
newest of them: severity, action, evidence families (cluster value vs population) and
size; its history is the sizes each alert reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.alerts.campaign import SEVERITY_RANK
from app.core.campaigns.values import pivot_kind
from app.core.events import AlertEvent
from app.tools.console.graph import IndicatorGraph, indicator_graph
from app.tools.console.store import Snapshot
from app.tools.console.table import search_rows, sort_rows
from app.tools.console.timeline import Timeline, hourly_timeline

__all__ = [
    "MEMBER_COLUMNS",
    "MEMBER_DESCENDING_FIRST",
    "CampaignDetail",
    "CampaignSummary",
    "Family",
    "Member",
    "campaign_detail",
    "campaign_summaries",
    "member_table",
]

_LINKED_VIA = "linked_via_"


@dataclass(frozen=True, slots=True)
class Family:
    """One evidence family: its value in the cluster against the whole population."""

    feature: str
    value: float
    baseline: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign_id: str
    severity: str
    action: str
    action_ttl_s: int
    score: float
    first_seen_ms: int
    last_seen_ms: int
    #: members as the newest alert counts them
    members_now: int
    #: distinct accounts alerted as members so far
    members_alerted: int
    #: (event time, members) as each alert reported it
    members_over_time: tuple[tuple[int, int], ...]
    #: members' requests on the linking indicators (trailing 24 h), newest alert
    requests: int | None
    distinct_subnets: int | None
    #: indicator kind → members linked through it (newest campaign alert), most first
    linked_via: tuple[tuple[str, int], ...]
    #: the most shared indicator of each kind → members on it (link index), most first
    top_indicators: tuple[tuple[str, int], ...]
    families: tuple[Family, ...]
    alerts: int


@dataclass(frozen=True, slots=True)
class Member:
    account_id: str
    #: event time of its first alert in the campaign
    joined_ms: int
    last_ms: int
    severity: str
    action: str
    #: its requests on the linking indicators (newest member alert)
    requests: int
    #: every alert about the account (campaign or not)
    alerts: int
    #: indicators it is linked on (link index)
    indicators: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    summary: CampaignSummary
    members: tuple[Member, ...]
    timeline: Timeline
    graph: IndicatorGraph
    #: the campaign's own alerts, newest first
    history: tuple[AlertEvent, ...]


def _size(a: AlertEvent) -> int | None:
    v = a.evidence.get("accounts" if a.entity_type == "campaign" else "campaign_accounts")
    return None if v is None else int(v)


def _requests(a: AlertEvent) -> int | None:
    v = a.evidence.get("requests" if a.entity_type == "campaign" else "campaign_requests")
    return None if v is None else int(v)


def _newest(alerts: Sequence[AlertEvent]) -> AlertEvent:
    return max(alerts, key=lambda a: (a.ts_ms, a.entity_type == "campaign"))


def _by_campaign(snap: Snapshot) -> dict[str, list[AlertEvent]]:
    out: dict[str, list[AlertEvent]] = {}
    for a in snap.alerts:
        if a.campaign_id is not None:
            out.setdefault(a.campaign_id, []).append(a)
    return out


def _summary(
    cid: str, alerts: Sequence[AlertEvent], links: Mapping[str, Mapping[str, int]]
) -> CampaignSummary:
    newest = _newest(alerts)
    own = [a for a in alerts if a.entity_type == "campaign"]
    members = {a.entity_id for a in alerts if a.entity_type == "account"}
    sizes: dict[int, int] = {}
    for a in alerts:
        n = _size(a)
        if n is not None:
            sizes[a.ts_ms] = max(n, sizes.get(a.ts_ms, 0))
    linked_via: tuple[tuple[str, int], ...] = ()
    subnets: int | None = None
    if own:
        ev = _newest(own).evidence
        kinds = {k[len(_LINKED_VIA) :]: int(v) for k, v in ev.items() if k.startswith(_LINKED_VIA)}
        linked_via = tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        if "distinct_subnets" in ev:
            subnets = int(ev["distinct_subnets"])
    on: dict[str, int] = {}
    for m in members:
        for key in links.get(m, ()):
            on[key] = on.get(key, 0) + 1
    # the most shared indicator of each kind (dozens of templates would crowd out the one
    # payment method that ties the members), most shared first
    best: dict[str, tuple[str, int]] = {}
    for k, n in sorted(on.items(), key=lambda kv: (-kv[1], kv[0])):
        if n >= 2:
            best.setdefault(pivot_kind(k), (k, n))
    top = sorted(best.values(), key=lambda kv: (-kv[1], kv[0]))
    size_now = _size(newest)
    return CampaignSummary(
        campaign_id=cid,
        severity=newest.severity,
        action=newest.action,
        action_ttl_s=newest.action_ttl_s,
        score=newest.score,
        first_seen_ms=min(a.ts_ms for a in alerts),
        last_seen_ms=newest.ts_ms,
        members_now=size_now if size_now is not None else len(members),
        members_alerted=len(members),
        members_over_time=tuple(sorted(sizes.items())),
        requests=_requests(newest),
        distinct_subnets=subnets,
        linked_via=linked_via,
        top_indicators=tuple(top),
        families=tuple(Family(r.feature, r.value, r.baseline, r.detail) for r in newest.reasons),
        alerts=len(alerts),
    )


def campaign_summaries(snap: Snapshot) -> list[CampaignSummary]:
    """Every campaign, most severe first, then the most recently active."""
    out = [_summary(cid, alerts, snap.links) for cid, alerts in _by_campaign(snap).items()]
    out.sort(key=lambda s: (-SEVERITY_RANK[s.severity], -s.last_seen_ms, s.campaign_id))
    return out


def campaign_detail(snap: Snapshot, campaign_id: str) -> CampaignDetail | None:
    alerts = [a for a in snap.alerts if a.campaign_id == campaign_id]
    if not alerts:
        return None
    per_account: dict[str, int] = {}
    for a in snap.alerts:
        if a.entity_type == "account":
            per_account[a.entity_id] = per_account.get(a.entity_id, 0) + 1
    mine: dict[str, list[AlertEvent]] = {}
    for a in alerts:
        if a.entity_type == "account":
            mine.setdefault(a.entity_id, []).append(a)
    members = []
    for account, its in mine.items():
        newest = _newest(its)
        members.append(
            Member(
                account_id=account,
                joined_ms=min(a.ts_ms for a in its),
                last_ms=newest.ts_ms,
                severity=newest.severity,
                action=newest.action,
                requests=int(newest.evidence.get("requests", 0)),
                alerts=per_account[account],
                indicators=tuple(sorted(snap.links.get(account, {}))),
            )
        )
    members.sort(key=lambda m: (m.joined_ms, m.account_id))
    timeline = hourly_timeline(
        joined_ms=[m.joined_ms for m in members],
        alerts=[(a.ts_ms, _requests(a)) for a in alerts],
    )
    graph = indicator_graph([m.account_id for m in members], snap.links)
    own = sorted(
        (a for a in alerts if a.entity_type == "campaign"), key=lambda a: a.ts_ms, reverse=True
    )
    return CampaignDetail(
        summary=_summary(campaign_id, alerts, snap.links),
        members=tuple(members),
        timeline=timeline,
        graph=graph,
        history=tuple(own),
    )


#: sortable columns of the member table
MEMBER_COLUMNS: dict[str, Callable[[Member], Any]] = {
    "account": lambda m: m.account_id,
    "joined": lambda m: (m.joined_ms, m.account_id),
    "last": lambda m: (m.last_ms, m.account_id),
    "severity": lambda m: (SEVERITY_RANK[m.severity], m.account_id),
    "action": lambda m: (m.action, m.account_id),
    "requests": lambda m: (m.requests, m.account_id),
    "alerts": lambda m: (m.alerts, m.account_id),
    "indicators": lambda m: (len(m.indicators), m.account_id),
}

#: columns whose first click sorts the largest / newest first
MEMBER_DESCENDING_FIRST = frozenset(
    {"joined", "last", "severity", "requests", "alerts", "indicators"}
)


def member_table(
    members: Sequence[Member], *, query: str = "", sort: str | None = None, desc: bool = False
) -> list[Member]:
    """Members matching ``query`` (account id or indicator), sorted by a column."""
    found = search_rows(members, query, text=lambda m: " ".join((m.account_id, *m.indicators)))
    return sort_rows(found, columns=MEMBER_COLUMNS, sort=sort, desc=desc)
