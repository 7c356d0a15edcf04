"""Indicators remembered from confirmed or critical campaigns, with decay and a cap.

When a campaign is confirmed by an analyst, or its evidence reaches ``critical``, the
indicators its members share (payment, TLS/UA, template, subnet pivots) are
remembered with that campaign's id for ``ttl_ms`` after the last time it was
confirmed or critical. A new account that touches ``min_hits`` remembered indicators of
one campaign is linked to it at once (the campaign stage), under the campaign's
existing id.

Bounded: at most ``max_per_campaign`` indicators per campaign (those most of its
members share) and ``max_entries`` in all; past that the entries closest to expiry go
first (down to 90% of the cap at once). Memory: ~170 B per entry (tracemalloc: key,
campaign id, expiry), 8.4 MB at the default cap of 50,000 entries.

>>> m = IndicatorMemory(ttl_ms=1_000, max_per_campaign=2, max_entries=10)
>>> m.remember("cmp-a", ["payment:p1", "tls:t1", "subnet:s1"], at_ms=0)
2
>>> m.campaign_of("payment:p1", at_ms=500), m.campaign_of("subnet:s1", at_ms=500)
('cmp-a', None)
>>> m.campaign_of("payment:p1", at_ms=1_000)
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["IndicatorMemory"]

#: pivot keys (``kind:value``), or card tags (:func:`~app.core.campaigns.values.card_tag`)
K = TypeVar("K", str, int)


class IndicatorMemory(Generic[K]):
    """Indicator key → (campaign id, expiry ms)."""

    def __init__(
        self, *, ttl_ms: int, max_per_campaign: int = 64, max_entries: int = 50_000
    ) -> None:
        self.ttl_ms = ttl_ms
        self.max_per_campaign = max_per_campaign
        self.max_entries = max_entries
        self.entries: dict[K, tuple[str, int]] = {}
        self.evicted = 0
        #: when a set: the keys newly remembered for a campaign (or for another one) since
        #: the owner last emptied it — who may be linked to them now
        self.fresh: set[K] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def remember(self, campaign_id: str, indicators: list[K], *, at_ms: int) -> int:
        """Remember ``indicators`` (most shared first) for the campaign; how many were kept."""
        expiry = at_ms + self.ttl_ms
        kept = 0
        for key in indicators[: self.max_per_campaign]:
            old = self.entries.get(key)
            if old is None or old[0] == campaign_id or old[1] <= at_ms:
                self.entries[key] = (campaign_id, expiry)
                if self.fresh is not None and (old is None or old[1] <= at_ms):
                    self.fresh.add(key)
            kept += 1
        if len(self.entries) > self.max_entries:
            # down to 90% of the cap at once: a full memory is not re-sorted per call
            keep = self.max_entries - self.max_entries // 10
            ordered = sorted(self.entries, key=lambda k: (self.entries[k][1], k))
            for key in ordered[: len(self.entries) - keep]:
                del self.entries[key]
                self.evicted += 1
        return kept

    def campaign_of(self, key: K, *, at_ms: int) -> str | None:
        got = self.entries.get(key)
        return got[0] if got is not None and at_ms < got[1] else None

    def expire(self, *, now_ms: int) -> int:
        gone = [k for k, (_, exp) in self.entries.items() if exp <= now_ms]
        for k in gone:
            del self.entries[k]
        return len(gone)
