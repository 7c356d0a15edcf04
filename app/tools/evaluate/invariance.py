"""A compact comparison table of one detector run on a labelled file (pure, no I/O).

Meant for checking that two runs (two implementations of the detection core, two
worker counts, a replay) produce equivalent alerts: :func:`invariance_table` reduces
the alerts to a few order-independent numbers, so equivalent alert streams give
equal tables (``==``) and :func:`table_diff` names the cells that differ.

Per labelled campaign:

- *first alert (min)*: minutes from the campaign's start (its first campaign
  request) to the first alert naming it (:func:`app.tools.evaluate.score.first_campaign_alerts`);
- *flagged within 1 h / 24 h*: accounts with an account alert within that horizon of
  their first (campaign) request, among accounts whose first request is at least the
  horizon before the end (:func:`app.tools.evaluate.score.recall_within`).

The ``all`` row pools the campaigns' accounts; its first alert is the latest
campaign's (the time until every campaign is named), ``None`` if any is never named.

Overall: *benign accounts alerted* (any account alert on an account without a
campaign label) and, for each named benign group (``enterprise_eval``,
``university``, ...), its accounts that got an enforcing action (throttle or block).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.tools.evaluate.labels import Labels
from app.tools.evaluate.score import (
    NamedAlert,
    first_account_flags,
    first_campaign_alerts,
    recall_within,
)

__all__ = [
    "ENFORCING",
    "AlertLike",
    "CampaignRow",
    "InvarianceTable",
    "Recall",
    "closing_sentinels",
    "first_request_times",
    "invariance_table",
    "markdown",
    "table_diff",
]

#: Actions that restrict the account (what a hard negative must not get).
ENFORCING = frozenset({"throttle", "block"})
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


class AlertLike(NamedAlert, Protocol):
    """The fields read from an alert (``AlertEvent`` and ``Flag`` both have them)."""

    @property
    def severity(self) -> str: ...
    @property
    def action(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Recall:
    flagged: int
    eligible: int

    @property
    def share(self) -> float | None:
        return self.flagged / self.eligible if self.eligible else None

    def __str__(self) -> str:
        s = self.share
        return "-" if s is None else f"{100 * s:.1f}% ({self.flagged}/{self.eligible})"


@dataclass(frozen=True, slots=True)
class CampaignRow:
    #: Labelled campaign id, or ``all``.
    campaign: str
    #: Accounts with at least one campaign request.
    accounts: int
    first_alert_min: float | None
    within_1h: Recall
    within_24h: Recall


@dataclass(frozen=True, slots=True)
class InvarianceTable:
    campaigns: tuple[CampaignRow, ...]
    overall: CampaignRow
    #: Benign (no campaign label) accounts with at least one account alert.
    benign_alerted: int
    #: Benign accounts with at least one request.
    benign_accounts: int
    #: (group, accounts with an enforcing action, accounts with a request) per named group.
    enforced: tuple[tuple[str, int, int], ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready), rows keyed by campaign id."""

        def row(r: CampaignRow) -> dict[str, Any]:
            return {
                "accounts": r.accounts,
                "first_alert_min": r.first_alert_min,
                "within_1h": [r.within_1h.flagged, r.within_1h.eligible],
                "within_24h": [r.within_24h.flagged, r.within_24h.eligible],
            }

        return {
            "campaigns": {r.campaign: row(r) for r in (*self.campaigns, self.overall)},
            "benign_alerted": self.benign_alerted,
            "benign_accounts": self.benign_accounts,
            "enforced": {g: [n, total] for g, n, total in self.enforced},
        }

    def rows(self) -> list[list[str]]:
        """Display rows (campaigns, then ``all`` with the benign columns)."""
        out = []
        for r in (*self.campaigns, self.overall):
            last = r is self.overall
            out.append(
                [
                    r.campaign,
                    str(r.accounts),
                    "never" if r.first_alert_min is None else f"{r.first_alert_min:.1f}",
                    str(r.within_1h),
                    str(r.within_24h),
                    f"{self.benign_alerted}/{self.benign_accounts}" if last else "",
                    *((f"{n}/{total}" if last else "") for _, n, total in self.enforced),
                ]
            )
        return out

    def columns(self) -> list[str]:
        return [
            "campaign",
            "accounts",
            "first alert (min)",
            "flagged <=1h",
            "flagged <=24h",
            "benign alerted",
            *(f"{g} enforced" for g, _, _ in self.enforced),
        ]


def first_request_times(rows: Iterable[tuple[int, str]]) -> dict[str, int]:
    """Earliest ``ts_ms`` per account from ``(ts_ms, account_id)`` pairs (any order)."""
    out: dict[str, int] = {}
    for ts, account in rows:
        if ts < out.get(account, ts + 1):
            out[account] = ts
    return out


def invariance_table(
    flags: Iterable[AlertLike],
    labels: Labels,
    first_request_ms: Mapping[str, int],
    *,
    end_ms: int,
    groups: Sequence[str] = ("enterprise_eval", "university"),
    campaign_start_ms: Mapping[str, int] | None = None,
) -> InvarianceTable:
    """The comparison table of ``flags`` against ``labels``.

    ``first_request_ms`` holds each active account's first request (accounts missing
    from it sent nothing and are left out of every denominator); a campaign account's
    first request is its label's ``campaign_first_ms`` when given (a hijacked account
    starts being a campaign account there). A campaign starts at its accounts' earliest
    first request unless ``campaign_start_ms`` says otherwise. ``end_ms`` is the end
    of the observed traffic.
    """
    flags = sorted(flags, key=lambda f: (f.ts_ms, f.entity_type, f.entity_id))
    members: dict[str, list[str]] = {}
    first_ms: dict[str, int] = {}
    for account, lab in labels.items():
        if lab.campaign_id is None:
            continue
        f0 = lab.campaign_first_ms
        if f0 is None:
            f0 = first_request_ms.get(account)
        if f0 is None:
            continue
        members.setdefault(lab.campaign_id, []).append(account)
        first_ms[account] = f0
    starts = {cid: min(first_ms[a] for a in accts) for cid, accts in members.items()}
    starts.update(campaign_start_ms or {})
    named = first_campaign_alerts(
        flags, labels, starts, default_start_ms=min(starts.values(), default=0)
    )
    flag_ms = first_account_flags(flags, labels)

    def row(cid: str, accts: list[str], first_alert_min: float | None) -> CampaignRow:
        hour = recall_within(accts, first_ms, flag_ms, horizon_ms=_HOUR_MS, end_ms=end_ms)
        day = recall_within(accts, first_ms, flag_ms, horizon_ms=_DAY_MS, end_ms=end_ms)
        return CampaignRow(cid, len(accts), first_alert_min, Recall(*hour), Recall(*day))

    rows = []
    for cid in sorted(members):
        alert = named.get(cid)
        delay = None if alert is None else round((alert - starts[cid]) / 60_000, 2)
        rows.append(row(cid, members[cid], delay))
    delays = [r.first_alert_min for r in rows]
    worst = (
        None
        if not rows or any(d is None for d in delays)
        else max(d for d in delays if d is not None)
    )
    overall = row("all", [a for cid in sorted(members) for a in members[cid]], worst)

    def benign(account: str) -> bool:
        lab = labels.get(account)
        return lab is None or lab.campaign_id is None

    alerted = {f.entity_id for f in flags if f.entity_type == "account" and benign(f.entity_id)}
    enforced_accounts = {
        f.entity_id for f in flags if f.entity_type == "account" and f.action in ENFORCING
    }
    enforced = []
    for g in groups:
        accts = [
            a
            for a, lab in labels.items()
            if lab.group == g and lab.campaign_id is None and a in first_request_ms
        ]
        enforced.append((g, sum(1 for a in accts if a in enforced_accounts), len(accts)))
    return InvarianceTable(
        campaigns=tuple(rows),
        overall=overall,
        benign_alerted=len(alerted),
        benign_accounts=sum(1 for a in first_request_ms if benign(a)),
        enforced=tuple(enforced),
    )


def markdown(table: InvarianceTable) -> str:
    cols = table.columns()
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in table.rows()]
    return "\n".join(lines) + "\n"


def table_diff(a: InvarianceTable, b: InvarianceTable) -> list[str]:
    """``"<row>.<column>: <a> != <b>"`` for every differing cell (empty: equivalent)."""
    out = []
    da, db = a.as_dict(), b.as_dict()
    for cid in sorted(set(da["campaigns"]) | set(db["campaigns"])):
        ra, rb = da["campaigns"].get(cid, {}), db["campaigns"].get(cid, {})
        for k in sorted(set(ra) | set(rb)):
            if ra.get(k) != rb.get(k):
                out.append(f"{cid}.{k}: {ra.get(k)} != {rb.get(k)}")
    for k in ("benign_alerted", "benign_accounts"):
        if da[k] != db[k]:
            out.append(f"{k}: {da[k]} != {db[k]}")
    for g in sorted(set(da["enforced"]) | set(db["enforced"])):
        if da["enforced"].get(g) != db["enforced"].get(g):
            out.append(f"enforced.{g}: {da['enforced'].get(g)} != {db['enforced'].get(g)}")
    return out


def closing_sentinels(
    *, partitions: int, after_ms: int, rank: int, partition_of: Callable[[str], int]
) -> list[dict[str, Any]]:
    """Quiet benign events ``after_ms`` past a finite input, ``rank`` per partition, so
    every partition's watermark (its ``rank``-th newest event) passes the real traffic:
    an online run then completes every tick an offline run's final flush does.

    >>> ev = closing_sentinels(partitions=2, after_ms=10, rank=3, partition_of=len)
    >>> [(len(e["account_id"]) % 2, e["ts_ms"]) for e in ev]
    [(0, 10), (0, 11), (0, 12), (1, 10), (1, 11), (1, 12)]
    """
    out: list[dict[str, Any]] = []
    for p in range(partitions):
        i = 0
        while partition_of(f"sentinel-{p}-{i}") % partitions != p:
            i += 1
        for k in range(rank):
            out.append(
                {
                    "event_id": f"sentinel-{p}-{k}",
                    "ts_ms": after_ms + k,
                    "account_id": f"sentinel-{p}-{i}",
                    "client_ip": f"192.0.2.{p + 1}",
                    "model": "frontier-1",
                    "prompt_tokens": 10,
                    "completion_tokens": 10,
                }
            )
    return out
