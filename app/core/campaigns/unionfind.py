"""Union-find (disjoint sets) with path halving and union by size, keeping each set's
members (merged smaller into larger: O(n log n) in all) and which sets changed.

>>> uf = UnionFind()
>>> uf.union("a", "b"); uf.union("c", "d"); uf.union("b", "d")
>>> uf.find("a") == uf.find("c"), sorted(map(sorted, uf.groups().values()))
(True, [['a', 'b', 'c', 'd']])
>>> sorted(uf.members(uf.find("a"))) == ["a", "b", "c", "d"], len(uf.take_dirty())
(True, 1)
>>> uf.take_dirty()
set()
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["UnionFind"]


class UnionFind:
    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._members: dict[Hashable, list[Hashable]] = {}
        #: roots of the sets that grew since :meth:`take_dirty` (a merged-away root
        #: may be among them: callers check with :meth:`is_root`)
        self._dirty: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._parent)

    def add(self, x: Hashable) -> None:
        if x not in self._parent:
            self._parent[x] = x
            self._members[x] = [x]
            self._dirty.add(x)

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
        members = self._members
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        self._parent[rb] = ra
        members[ra] += members.pop(rb)
        self._dirty.add(ra)

    def is_member(self, x: Hashable) -> bool:
        return x in self._parent

    def is_root(self, x: Hashable) -> bool:
        return x in self._members

    def members(self, root: Hashable) -> list[Hashable]:
        """The set's members (in no particular order; do not modify)."""
        return self._members[root]

    def take_dirty(self) -> set[Hashable]:
        """Roots of the sets that changed since the last call (and forget them)."""
        dirty = {r for r in self._dirty if r in self._members}
        self._dirty = set()
        return dirty

    def groups(self) -> dict[Hashable, list[Hashable]]:
        return dict(self._members)
