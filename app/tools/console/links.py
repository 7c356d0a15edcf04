"""Which indicators tie accounts together: the campaign stage's input, indexed for reading.

The pivot stage sends the campaign stage every member link that qualified or changed at
each linkage tick (``<app_id>.links``, :class:`~app.core.stages.records.LinkInput`): account,
pivot key (``payment:…``, ``subnet:…``, ``tls:…``, ``template:…``, ``simhash:…``,
``created:…``) and the account's requests on it. Alerts carry only how many members each
indicator kind linked; this index keeps the indicator values themselves, with the same
rules the campaign stage applies: an upsert replaces, ``requests == 0`` withdraws a link,
a dropped pivot withdraws all of its links, and a refresh tick of a pivot partition keeps
only the links that partition re-sent at that tick (links decay by not being re-sent).

>>> from app.core.stages.records import LinkInput, TickLinks
>>> idx = LinkIndex()
>>> a = ("a", "payment:p1", 5, 0, 0, 0, 0, 0, 0, 0, 0)
>>> b = ("b", "payment:p1", 2, 0, 0, 0, 0, 0, 0, 0, 0)
>>> idx.apply(LinkInput(0, 600, [TickLinks(600, False, [a, b])]))
>>> idx.of_account("a"), sorted(idx.accounts_on("payment:p1"))
({'payment:p1': 5}, ['a', 'b'])
>>> b = ("b", "payment:p1", 3, 0, 0, 0, 0, 0, 0, 0, 0)
>>> idx.apply(LinkInput(0, 1200, [TickLinks(1200, True, [b])]))
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
        #: (account, pivot key) → (source partition, tick it was last sent)
        self._sent: dict[tuple[str, str], tuple[int, int]] = {}
        self.records = 0

    def apply_raw(self, raw: bytes) -> None:
        """One message value of the links topic (a JSON array of link inputs)."""
        for rec in decode_link_inputs(raw):
            self.apply(rec)

    def apply(self, rec: LinkInput) -> None:
        self.records += 1
        for tick in rec.ticks:
            if tick.refresh:
                self._expire(rec.source, tick.tick_ms)
            for key in tick.dropped_pivots:
                for account in list(self._by_pivot.get(key, ())):
                    self._remove(account, key)
            for account, key, requests, *_ in tick.links:
                if requests == 0:
                    self._remove(account, key)
                    continue
                self._by_account.setdefault(account, {})[key] = requests
                self._by_pivot.setdefault(key, set()).add(account)
                self._sent[(account, key)] = (rec.source, tick.tick_ms)

    def _expire(self, source: int, tick_ms: int) -> None:
        """A refresh at ``tick_ms``: links of ``source`` not re-sent since are gone."""
        stale = [k for k, (s, t) in self._sent.items() if s == source and t < tick_ms]
        for account, key in stale:
            self._remove(account, key)

    def _remove(self, account: str, key: str) -> None:
        self._sent.pop((account, key), None)
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
        return len(self._sent)
