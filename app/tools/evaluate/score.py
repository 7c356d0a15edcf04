"""Detection scoring arithmetic (pure, no I/O).

Definitions (also in ``docs/evaluation.md``):

- *campaign start*: its first campaign exchange; *first alert naming it*: the earliest
  account alert on one of its accounts, or campaign alert whose member accounts
  (account alerts carrying that ``campaign_id``) are mostly its accounts;
- *exchanges before alert*: campaign exchanges with ``ts < first alert ts``, as a count,
  a share of all its exchanges, and a share of its first 24 h of exchanges;
- *account recall within h*: share of campaign accounts alerted within ``h`` of their
  first campaign request, among those whose first request is ≥ ``h`` before the end;
- *false-positive rate*: benign accounts (with ≥ 1 request) alerted at least once,
  over all benign accounts, overall and per group (the labels' ``group`` column: each
  benign look-alike group is reported on its own, with its accounts that got an
  enforcing action, ``throttle`` or ``block``);
- *new members after the first alert*: campaign accounts whose first campaign request
  comes after the first alert naming their campaign (the heads that appear once it is
  known): how many, the share flagged within 1 h of that request, and the median delay;
- *campaign group*: the labels' ``group`` of a campaign's accounts (its variant);
- *precision*: share of account/campaign alerts that are about campaign accounts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from app.tools.evaluate.labels import Labels

__all__ = [
    "Flag",
    "GroundTruth",
    "NamedAlert",
    "campaign_alert_targets",
    "first_account_flags",
    "first_campaign_alerts",
    "recall_within",
    "score_flags",
]

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_HIGH = frozenset({"high", "critical"})
_ENFORCING = frozenset({"throttle", "block"})


@dataclass(frozen=True, slots=True)
class Flag:
    """One alert, reduced to what scoring needs."""

    ts_ms: int
    entity_type: str
    entity_id: str
    severity: str
    detector: str
    campaign_id: str | None = None
    #: The alert's action (observe, verify, throttle, block) when known.
    action: str | None = None
    #: The alert's score (ranks alerts for operating points; 1.0 for a binary rule).
    score: float = 1.0


class NamedAlert(Protocol):
    """What the helpers below read from an alert (:class:`Flag`, ``AlertEvent``)."""

    @property
    def ts_ms(self) -> int: ...
    @property
    def entity_type(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def campaign_id(self) -> str | None: ...


@dataclass(slots=True)
class GroundTruth:
    labels: Labels
    start_ms: int
    end_ms: int
    #: Sorted event times of each campaign's exchanges.
    campaign_event_ts: dict[str, np.ndarray] = field(default_factory=dict)
    #: Accounts with at least one request.
    active_accounts: set[str] = field(default_factory=set)


def campaign_alert_targets(flags: Iterable[NamedAlert], labels: Labels) -> dict[str, str]:
    """Detector campaign id → labelled campaign, by majority of its alerted accounts."""
    votes: dict[str, Counter[str | None]] = defaultdict(Counter)
    for f in flags:
        if f.entity_type == "account" and f.campaign_id:
            lab = labels.get(f.entity_id)
            votes[f.campaign_id][lab.campaign_id if lab else None] += 1
    out = {}
    for cid, counter in votes.items():
        best, n = counter.most_common(1)[0]
        if best is not None and n * 2 > sum(counter.values()):
            out[cid] = best
    return out


def first_account_flags(flags: Iterable[NamedAlert], labels: Labels) -> dict[str, int]:
    """Earliest account alert per account; a campaign account counts as flagged only
    from its first campaign request on (a hijacked account's earlier benign alerts are
    not detections)."""
    out: dict[str, int] = {}
    for f in flags:
        if f.entity_type != "account":
            continue
        lab = labels.get(f.entity_id)
        since = lab.campaign_first_ms if lab is not None and lab.campaign_id else None
        if (since is None or f.ts_ms >= since) and f.ts_ms < out.get(f.entity_id, f.ts_ms + 1):
            out[f.entity_id] = f.ts_ms
    return out


def first_campaign_alerts(
    flags: Iterable[NamedAlert],
    labels: Labels,
    campaign_start: Mapping[str, int],
    *,
    default_start_ms: int,
) -> dict[str, int]:
    """Earliest alert naming each labelled campaign at or after its start: an account
    alert on one of its accounts, or a campaign alert whose alerted member accounts
    are mostly its accounts (:func:`campaign_alert_targets`)."""
    flags = list(flags)
    targets = campaign_alert_targets(flags, labels)
    out: dict[str, int] = {}
    for f in flags:
        named: str | None = None
        if f.entity_type == "account":
            lab = labels.get(f.entity_id)
            named = lab.campaign_id if lab else None
        elif f.entity_type == "campaign" and f.campaign_id:
            named = targets.get(f.campaign_id)
        if (
            named is not None
            and f.ts_ms >= campaign_start.get(named, default_start_ms)
            and f.ts_ms < out.get(named, f.ts_ms + 1)
        ):
            out[named] = f.ts_ms
    return out


def recall_within(
    members: Iterable[str],
    first_ms: Mapping[str, int | None],
    flag_ms: Mapping[str, int],
    *,
    horizon_ms: int,
    end_ms: int,
) -> tuple[int, int]:
    """(flagged, eligible): accounts alerted within ``horizon_ms`` of their first
    request, among those whose first request is at least ``horizon_ms`` before
    ``end_ms``."""
    eligible = flagged = 0
    for a in members:
        f0 = first_ms.get(a)
        if f0 is None or f0 + horizon_ms > end_ms:
            continue
        eligible += 1
        if a in flag_ms and flag_ms[a] - f0 <= horizon_ms:
            flagged += 1
    return flagged, eligible


def score_flags(flags: list[Flag], truth: GroundTruth) -> dict[str, Any]:
    labels = truth.labels
    flags = sorted(flags, key=lambda f: f.ts_ms)
    targets = campaign_alert_targets(flags, labels)

    campaign_start = {
        cid: int(ts[0]) if ts.size else truth.start_ms
        for cid, ts in truth.campaign_event_ts.items()
    }
    first_alert = first_campaign_alerts(
        flags, labels, campaign_start, default_start_ms=truth.start_ms
    )
    account_flag_ms = first_account_flags(flags, labels)
    account_high: set[str] = set()
    account_enforced: set[str] = set()
    tp = fp = 0
    for f in flags:
        named: str | None = None
        if f.entity_type == "account":
            lab = labels.get(f.entity_id)
            if f.severity in _HIGH:
                account_high.add(f.entity_id)
            if f.action in _ENFORCING:
                account_enforced.add(f.entity_id)
            named = lab.campaign_id if lab else None
        elif f.entity_type == "campaign" and f.campaign_id:
            named = targets.get(f.campaign_id)
        else:
            continue
        if named is not None:
            tp += 1
        else:
            fp += 1

    campaigns: dict[str, Any] = {}
    for cid, ts in truth.campaign_event_ts.items():
        members = [a for a, lab in labels.items() if lab.campaign_id == cid]
        start = campaign_start[cid]
        alert = first_alert.get(cid)
        before = int(np.searchsorted(ts, alert, side="left")) if alert is not None else int(ts.size)
        first_day = int(np.searchsorted(ts, start + _DAY_MS, side="left"))
        before_day = min(before, first_day)
        first_ms = {a: labels[a].campaign_first_ms for a in members}
        recall = {}
        for label, horizon in (("1h", _HOUR_MS), ("24h", _DAY_MS)):
            hit, eligible = recall_within(
                members, first_ms, account_flag_ms, horizon_ms=horizon, end_ms=truth.end_ms
            )
            recall[label] = {
                "eligible": eligible,
                "flagged": hit,
                "share": hit / eligible if eligible else None,
            }
        active_members = [a for a in members if labels[a].campaign_first_ms is not None]
        joiners = [
            a
            for a in active_members
            if alert is not None and (labels[a].campaign_first_ms or 0) > alert
        ]
        delays = sorted(
            account_flag_ms[a] - (labels[a].campaign_first_ms or 0)
            for a in joiners
            if a in account_flag_ms
        )
        member_groups = Counter(labels[a].group for a in members)
        campaigns[cid] = {
            "group": member_groups.most_common(1)[0][0] if member_groups else None,
            "accounts": len(active_members),
            "exchanges": int(ts.size),
            "start_ms": start,
            "first_alert_ms": alert,
            "detected": alert is not None,
            "time_to_detect_s": None if alert is None else max(0, alert - start) / 1000,
            "exchanges_before_alert": before,
            "share_before_alert": before / ts.size if ts.size else None,
            "first_day_exchanges": first_day,
            "first_day_share_before_alert": before_day / first_day if first_day else None,
            "accounts_flagged": sum(1 for a in active_members if a in account_flag_ms),
            "accounts_flagged_share": (
                sum(1 for a in active_members if a in account_flag_ms) / len(active_members)
                if active_members
                else None
            ),
            "flagged_within_1h": recall["1h"],
            "flagged_within_24h": recall["24h"],
            "new_members_after_first_alert": {
                "accounts": len(joiners),
                "flagged_within_1h": (
                    sum(1 for d in delays if d <= _HOUR_MS) / len(joiners) if joiners else None
                ),
                "median_delay_s": delays[len(delays) // 2] / 1000 if delays else None,
            },
        }

    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"accounts": 0, "flagged": 0, "high_or_critical": 0, "enforced": 0}
    )
    for account in truth.active_accounts:
        lab = labels.get(account)
        if lab is None or lab.campaign_id is not None:
            continue
        g = groups[lab.group]
        g["accounts"] += 1
        if account in account_flag_ms:
            g["flagged"] += 1
        if account in account_high:
            g["high_or_critical"] += 1
        if account in account_enforced:
            g["enforced"] += 1
    for g in groups.values():
        g["rate"] = g["flagged"] / g["accounts"] if g["accounts"] else 0.0
    benign_total = sum(g["accounts"] for g in groups.values())
    benign_flagged = sum(g["flagged"] for g in groups.values())

    days = max(1, int(np.ceil((truth.end_ms - truth.start_ms) / _DAY_MS)))
    per_day = [0] * days
    for f in flags:
        d = int((f.ts_ms - truth.start_ms) // _DAY_MS)
        per_day[min(max(d, 0), days - 1)] += 1
    return {
        "campaigns": campaigns,
        "benign": {
            "accounts": benign_total,
            "flagged": benign_flagged,
            "fp_rate": benign_flagged / benign_total if benign_total else 0.0,
            "high_or_critical": sum(g["high_or_critical"] for g in groups.values()),
            "enforced": sum(g["enforced"] for g in groups.values()),
            "by_group": dict(sorted(groups.items())),
        },
        "alerts": {
            "total": len(flags),
            "per_day": per_day,
            "by_entity_type": dict(Counter(f.entity_type for f in flags)),
            "precision": tp / (tp + fp) if tp + fp else None,
        },
    }
