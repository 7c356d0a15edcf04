"""Evidence families that separate campaigns from benign sharing, and their combination.

No single shared indicator is evidence: thousands of benign customers share a coding
agent's template and fingerprint, offices share NATs and payment methods. A cohort
(accounts sharing an indicator) or a cluster is suspicious only when harvest-like
traffic (capability targeting, reasoning, long outputs) comes with at least two
independent families:

- ``youth``: the accounts are days old (created in bursts);
- ``mismatch``: billing country differs from the IP's country;
- ``infrastructure``: proxy/datacenter addresses, or addresses shared across accounts;
- ``coordination``: members send near-identical volumes (load balancing).

>>> e = Evidence(accounts=40, harvest=0.9, youth=0.95, mismatch=0.8, infrastructure=0.7,
...              coordination=0.2)
>>> e.families, e.suspicious(min_accounts=5, min_harvest=0.75), round(e.score, 3)
(3, True, 0.842)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FAMILY_THRESHOLD", "Evidence", "homogeneity"]

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


@dataclass(frozen=True, slots=True)
class Evidence:
    accounts: int
    harvest: float
    youth: float
    mismatch: float
    infrastructure: float
    coordination: float

    def family_values(self) -> dict[str, float]:
        return {
            "youth": self.youth,
            "mismatch": self.mismatch,
            "infrastructure": self.infrastructure,
            "coordination": self.coordination,
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
