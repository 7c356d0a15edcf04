"""Evidence families that separate campaigns from benign sharing, and their combination.

No single shared indicator is evidence: thousands of benign customers share a coding
agent's template and fingerprint, offices share NATs and payment methods. A cohort
(accounts sharing an indicator) or a cluster is suspicious only when harvest-like
traffic (capability targeting, reasoning, long outputs) comes with at least two
independent families:

- ``youth``: the accounts are days old (created in bursts);
- ``mismatch``: billing country differs from the IP's country;
- ``infrastructure``: proxy/datacenter addresses, or addresses shared across accounts;
- ``coordination``: members send near-identical volumes (load balancing);
- ``density`` (clusters only): the share of members that share indicators with the
  others in at least three independent dimensions at once — network, payment, client
  fingerprint, content, creation time — the dense block one operator's accounts form
  (FRAUDAR, CopyCatch) and independent customers sharing one tool do not;
- ``pool``: the members' shared addresses are spread over many address blocks, each
  holding only a few of them — the collisions accounts drawn from one proxy pool make,
  not the one block an office, a campus NAT or a household is. Cohorts: how many /24s
  carry two or three members, against ``pool_min_blocks``; clusters: the share of
  members co-located on a cohort that was pool-like.

>>> e = Evidence(accounts=40, harvest=0.9, youth=0.95, mismatch=0.8, infrastructure=0.7,
...              coordination=0.2)
>>> e.families, e.suspicious(min_accounts=5, min_harvest=0.75), round(e.score, 3)
(3, True, 0.842)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FAMILY_THRESHOLD", "CountMoments", "Evidence", "homogeneity"]

FAMILY_THRESHOLD = 0.5


def homogeneity(counts: Sequence[float], *, min_median: float = 3.0) -> float:
    """1 - CV of per-member request counts (0 when members are too quiet to judge).

    >>> homogeneity([26, 25, 27, 26]) > 0.9, homogeneity([1, 300, 4, 2, 90]) == 0.0
    (True, True)
    """
    if len(counts) < 3:
        return 0.0
    ordered = sorted(counts)
    if ordered[len(ordered) // 2] < min_median:
        return 0.0
    mean = sum(counts) / len(counts)
    var = sum((c - mean) ** 2 for c in counts) / len(counts)
    return max(0.0, 1.0 - math.sqrt(var) / mean)


class CountMoments:
    """:func:`homogeneity` of a multiset of integer counts, maintained in O(1) per change.

    A pivot's members change one request at a time; re-reading every member at each
    linkage tick made the tick cost grow with the cohort, not with the new traffic.

    >>> m = CountMoments()
    >>> for c in (26, 25, 27, 26):
    ...     m.insert(c)
    >>> m.replace(25, 26); m.remove(27)
    >>> m.homogeneity() == homogeneity([26, 26, 26])
    True
    """

    __slots__ = ("low", "n", "total", "total_sq")

    #: counts below this are "quiet" (the median test of :func:`homogeneity`)
    MIN_MEDIAN = 3

    def __init__(self) -> None:
        self.n = 0
        #: sums of whole-number counts: exact (ints, or floats below 2**53)
        self.total: float = 0
        self.total_sq: float = 0
        self.low = 0

    def insert(self, count: float) -> None:
        self.n += 1
        self.total += count
        self.total_sq += count * count
        self.low += count < self.MIN_MEDIAN

    def remove(self, count: float) -> None:
        self.n -= 1
        self.total -= count
        self.total_sq -= count * count
        self.low -= count < self.MIN_MEDIAN

    def replace(self, old: float, new: float) -> None:
        self.total += new - old
        self.total_sq += new * new - old * old
        self.low += (new < self.MIN_MEDIAN) - (old < self.MIN_MEDIAN)

    def homogeneity(self) -> float:
        """Same value as :func:`homogeneity` over the counts (exact integer moments)."""
        n = self.n
        if n < 3 or self.low > n // 2:  # the median itself is quiet
            return 0.0
        # n² · variance, exactly, in integers
        var_n2 = n * self.total_sq - self.total * self.total
        mean = self.total / n
        return max(0.0, 1.0 - math.sqrt(var_n2) / n / mean)


@dataclass(frozen=True, slots=True)
class Evidence:
    accounts: int
    harvest: float
    youth: float
    mismatch: float
    infrastructure: float
    coordination: float
    density: float = 0.0
    pool: float = 0.0

    def family_values(self) -> dict[str, float]:
        return {
            "youth": self.youth,
            "mismatch": self.mismatch,
            "infrastructure": self.infrastructure,
            "coordination": self.coordination,
            "density": self.density,
            "pool": self.pool,
        }

    @property
    def families(self) -> int:
        return sum(v >= FAMILY_THRESHOLD for v in self.family_values().values())

    @property
    def score(self) -> float:
        top = sorted(self.family_values().values(), reverse=True)[:3]
        return max(0.0, min(1.0, 0.3 * self.harvest + 0.7 * sum(top) / 3))

    def suspicious(self, *, min_accounts: int, min_harvest: float, min_families: int = 2) -> bool:
        return (
            self.accounts >= min_accounts
            and self.harvest >= min_harvest
            and self.families >= min_families
        )
