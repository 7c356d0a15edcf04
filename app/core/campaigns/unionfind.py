"""Union-find (disjoint sets) with path halving and union by size.

>>> uf = UnionFind()
>>> uf.union("a", "b"); uf.union("c", "d"); uf.union("b", "d")
>>> uf.find("a") == uf.find("c"), sorted(map(sorted, uf.groups().values()))
(True, [['a', 'b', 'c', 'd']])
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["UnionFind"]


class UnionFind:
    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._size: dict[Hashable, int] = {}
        #: Set on every new element or merge; a caller may reset it to cache groups.
        self.changed = False

    def add(self, x: Hashable) -> None:
        if x not in self._parent:
            self._parent[x] = x
            self._size[x] = 1
            self.changed = True

    def find(self, x: Hashable) -> Hashable:
        self.add(x)
        parent = self._parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]
        self.changed = True

    def groups(self) -> dict[Hashable, list[Hashable]]:
        out: dict[Hashable, list[Hashable]] = {}
        for x in self._parent:
            out.setdefault(self.find(x), []).append(x)
        return out
