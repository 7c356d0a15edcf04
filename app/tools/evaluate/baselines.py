"""The two baselines every report shows beside hydrawatch.

- :class:`PerAccountRateBaseline`: what a per-account rate limiter sees — flag an
  account whose requests in a rolling hour, or in a calendar day, exceed a limit.
- :class:`SubnetDistinctAccountsBaseline`: per-/24 (or /48) distinct-account counting
  — flag every account seen in a subnet-hour with at least ``min_accounts`` accounts.

Both are pure and take events in event-time order.

>>> b = PerAccountRateBaseline(max_per_hour=2, max_per_day=100)
>>> [f.entity_id for f in b.process([(0, "a", "1.2.3.4"), (1, "a", "1.2.3.4"),
...                                  (2, "a", "1.2.3.4")])]
['a']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from app.core.events.request import subnet_of
from app.tools.evaluate.score import Flag

__all__ = ["PerAccountRateBaseline", "SubnetDistinctAccountsBaseline"]

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000

#: (ts_ms, account_id, client_ip)
Row = tuple[int, str, str]


class PerAccountRateBaseline:
    name = "baseline_account_rate"

    def __init__(self, *, max_per_hour: int = 300, max_per_day: int = 2_000) -> None:
        self.max_per_hour = max_per_hour
        self.max_per_day = max_per_day
        self._recent: dict[str, deque[int]] = {}
        self._day: dict[str, tuple[int, int]] = {}
        self._flagged: set[str] = set()

    def process(self, rows: Iterable[Row]) -> list[Flag]:
        out = []
        for ts, account, _ in rows:
            if account in self._flagged:
                continue
            q = self._recent.get(account)
            if q is None:
                q = self._recent[account] = deque()
            q.append(ts)
            while q and q[0] <= ts - _HOUR_MS:
                q.popleft()
            day = ts // _DAY_MS
            d, n = self._day.get(account, (day, 0))
            n = n + 1 if d == day else 1
            self._day[account] = (day, n)
            if len(q) > self.max_per_hour or n > self.max_per_day:
                self._flagged.add(account)
                del self._recent[account]
                out.append(Flag(ts, "account", account, "high", self.name))
        return out


class SubnetDistinctAccountsBaseline:
    name = "baseline_subnet_accounts"

    def __init__(self, *, min_accounts: int = 10) -> None:
        self.min_accounts = min_accounts
        self._hour: int | None = None
        self._accounts: dict[str, set[str]] = {}
        self._flagged: set[str] = set()

    def _close(self, end_ms: int) -> list[Flag]:
        out = []
        for accounts in self._accounts.values():
            if len(accounts) >= self.min_accounts:
                for a in sorted(accounts - self._flagged):
                    self._flagged.add(a)
                    out.append(Flag(end_ms, "account", a, "medium", self.name))
        self._accounts.clear()
        return out

    def process(self, rows: Iterable[Row]) -> list[Flag]:
        out: list[Flag] = []
        for ts, account, ip in rows:
            hour = ts // _HOUR_MS
            if self._hour is not None and hour != self._hour:
                out += self._close((self._hour + 1) * _HOUR_MS)
            self._hour = hour
            self._accounts.setdefault(subnet_of(ip), set()).add(account)
        return out

    def flush(self) -> list[Flag]:
        if self._hour is None:
            return []
        return self._close((self._hour + 1) * _HOUR_MS)
