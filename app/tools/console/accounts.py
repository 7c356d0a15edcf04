"""One account: its alerts with their reasons, its campaigns and its indicators."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.events import AlertEvent
from app.tools.console.store import Snapshot

__all__ = ["AccountIndicator", "AccountView", "account_view"]


@dataclass(frozen=True, slots=True)
class AccountIndicator:
    key: str
    #: the account's requests on it (trailing 24 h, as the pivot stage last sent it)
    requests: int
    #: other accounts linked on the same indicator
    shared_with: int


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    #: newest first
    alerts: tuple[AlertEvent, ...]
    #: campaigns it was alerted as a member of, newest first
    campaign_ids: tuple[str, ...]
    indicators: tuple[AccountIndicator, ...]

    @property
    def latest(self) -> AlertEvent | None:
        return self.alerts[0] if self.alerts else None


def account_view(snap: Snapshot, account_id: str) -> AccountView | None:
    """None if the console knows nothing of the account (no alert, no link)."""
    alerts = sorted(
        (a for a in snap.alerts if a.entity_type == "account" and a.entity_id == account_id),
        key=lambda a: (a.ts_ms, a.alert_id),
        reverse=True,
    )
    mine = snap.links.get(account_id, {})
    if not alerts and not mine:
        return None
    campaigns: list[str] = []
    for a in alerts:
        if a.campaign_id is not None and a.campaign_id not in campaigns:
            campaigns.append(a.campaign_id)
    shared: dict[str, int] = dict.fromkeys(mine, 0)
    for other, links in snap.links.items():
        if other != account_id:
            for key in links:
                if key in shared:
                    shared[key] += 1
    indicators = sorted(
        (AccountIndicator(k, int(n), shared[k]) for k, n in mine.items()),
        key=lambda i: (-i.shared_with, i.key),
    )
    return AccountView(account_id, tuple(alerts), tuple(campaigns), tuple(indicators))
