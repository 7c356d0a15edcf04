"""The indicator graph of a campaign: member accounts ↔ the indicators they share.

Nodes are the members (left column) and the indicators at least ``min_shared`` of them
are linked on (right column, grouped by kind, most-shared first, at most ``per_kind``
of each kind so a payment method or a subnet is not crowded out by the dozens of
templates and SimHash bands every member shares); an edge is one
member's link on one indicator, weighted by its requests there. Members are ordered by
the mean position of their indicators, which keeps edges short and puts accounts tied by
the same indicators next to each other.

>>> g = indicator_graph(["a", "b", "c"], {"a": {"payment:p": 3, "tls:t": 1},
...     "b": {"payment:p": 2, "tls:t": 4}, "c": {"tls:t": 1, "subnet:s": 9}})
>>> [(n.id, n.kind, n.degree) for n in g.nodes if n.kind != "account"]
[('payment:p', 'payment', 2), ('tls:t', 'tls', 3)]
>>> len(g.edges), g.omitted_indicators
(5, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.core.campaigns.values import pivot_kind

__all__ = ["GraphEdge", "GraphNode", "IndicatorGraph", "indicator_graph"]


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str
    #: ``account`` or the indicator's kind (``payment``, ``subnet``, ``tls``, …)
    kind: str
    x: float
    y: float
    #: members on the indicator / shared indicators of the account
    degree: int


@dataclass(frozen=True, slots=True)
class GraphEdge:
    account: str
    indicator: str
    requests: int


@dataclass(frozen=True, slots=True)
class IndicatorGraph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    #: indicators of members left out (shared by fewer than ``min_shared``, or past
    #: ``per_kind``)
    omitted_indicators: int
    #: members with no link known to the console (their links were never read)
    members_without_links: int

    @property
    def indicators(self) -> tuple[GraphNode, ...]:
        return tuple(n for n in self.nodes if n.kind != "account")


def _y(i: int, n: int) -> float:
    return 0.5 if n <= 1 else 1.0 - i / (n - 1)


def indicator_graph(
    members: Sequence[str],
    links: Mapping[str, Mapping[str, int]],
    *,
    min_shared: int = 2,
    per_kind: int = 8,
) -> IndicatorGraph:
    on: dict[str, list[str]] = {}
    without = 0
    for a in members:
        mine = links.get(a)
        if not mine:
            without += 1
            continue
        for key in mine:
            on.setdefault(key, []).append(a)
    shared = sorted(
        (k for k, accts in on.items() if len(accts) >= min_shared),
        key=lambda k: (pivot_kind(k), -len(on[k]), k),
    )
    kept: list[str] = []
    taken: dict[str, int] = {}
    for k in shared:
        kind = pivot_kind(k)
        if taken.get(kind, 0) < per_kind:
            taken[kind] = taken.get(kind, 0) + 1
            kept.append(k)
    omitted = len(on) - len(kept)
    pos = {k: _y(i, len(kept)) for i, k in enumerate(kept)}
    edges = [GraphEdge(a, k, int(links[a][k])) for k in kept for a in sorted(on[k])]
    tied: dict[str, list[float]] = {}
    for e in edges:
        tied.setdefault(e.account, []).append(pos[e.indicator])
    accounts = sorted(tied, key=lambda a: (-sum(tied[a]) / len(tied[a]), a))
    nodes = [
        GraphNode(a, "account", 0.0, _y(i, len(accounts)), len(tied[a]))
        for i, a in enumerate(accounts)
    ]
    nodes += [GraphNode(k, pivot_kind(k), 1.0, pos[k], len(on[k])) for k in kept]
    return IndicatorGraph(tuple(nodes), tuple(edges), omitted, without)
