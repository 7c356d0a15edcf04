"""Which indicators tie accounts together: the campaign stage's input, indexed for reading.

The pivot stage sends the campaign stage every member link that qualified or changed at
each linkage tick (``<app_id>.links``, :class:`~app.core.stages.records.LinkInput`): account,
pivot key (``payment:…``, ``subnet:…``, ``tls:…``, ``template:…``, ``simhash:…``,
``created:…``) and the account's requests on it. Alerts carry only how many members each
indicator kind linked; this index keeps the indicator values themselves, with the same
rules the campaign stage applies: an upsert replaces, ``requests == 0`` withdraws a link,
and a dropped pivot withdraws all of its links (a refresh tick withdraws what no longer
qualifies the same way: what it does not mention stays).

>>> from app.core.stages.records import LinkInput, TickLinks
>>> idx = LinkIndex()
>>> a = ("a", "payment:p1", 5, 0, 0, 0, 0, 0, 0, 0, 0)
>>> b = ("b", "payment:p1", 2, 0, 0, 0, 0, 0, 0, 0, 0)
>>> idx.apply(LinkInput(0, 600, [TickLinks(600, False, [a, b])]))
>>> idx.of_account("a"), sorted(idx.accounts_on("payment:p1"))
({'payment:p1': 5}, ['a', 'b'])
>>> gone = ("a", "payment:p1", 0, 0, 0, 0, 0, 0, 0, 0, 0)
>>> b = ("b", "payment:p1", 3, 0, 0, 0, 0, 0, 0, 0, 0)
>>> idx.apply(LinkInput(0, 1200, [TickLinks(1200, True, [gone, b])]))
>>> idx.of_account("a"), idx.of_account("b")
({}, {'payment:p1': 3})
"""

from __future__ import annotations

from app.core.stages.records import LinkInput, decode_link_inputs

__all__ = ["LinkIndex"]


class LinkIndex:
    """account → pivot key → requests, from the pivot stage's link records (not thread-safe)."""

    def __init__(self) -> None:
        self._by_account: dict[str, dict[str, int]] = {}
        self._by_pivot: dict[str, set[str]] = {}
        self.records = 0

    def apply_raw(self, raw: bytes) -> None:
        """One message value of the links topic (a JSON array of link inputs)."""
        for rec in decode_link_inputs(raw):
            self.apply(rec)

    def apply(self, rec: LinkInput) -> None:
        self.records += 1
        for tick in rec.ticks:
            for key in tick.dropped_pivots:
                for account in list(self._by_pivot.get(key, ())):
                    self._remove(account, key)
            for account, key, requests, *_ in tick.links:
                if requests == 0:
                    self._remove(account, key)
                    continue
                self._by_account.setdefault(account, {})[key] = requests
                self._by_pivot.setdefault(key, set()).add(account)

    def _remove(self, account: str, key: str) -> None:
        mine = self._by_account.get(account)
        if mine is not None and mine.pop(key, None) is not None and not mine:
            del self._by_account[account]
        on = self._by_pivot.get(key)
        if on is not None:
            on.discard(account)
            if not on:
                del self._by_pivot[key]

    def of_account(self, account: str) -> dict[str, int]:
        """The account's live links: pivot key → its requests on it (a copy)."""
        return dict(self._by_account.get(account, {}))

    def accounts_on(self, key: str) -> set[str]:
        return set(self._by_pivot.get(key, ()))

    def copy(self) -> dict[str, dict[str, int]]:
        """account → pivot key → requests, detached from the index."""
        return {a: dict(m) for a, m in self._by_account.items()}

    def __len__(self) -> int:
        """Links in force."""
        return sum(len(m) for m in self._by_account.values())
