"""Sorting and searching a table's rows (the server does it: no script needed).

>>> rows = [{"id": "b", "n": 1}, {"id": "a", "n": 3}, {"id": "ab", "n": 2}]
>>> cols = {"id": lambda r: r["id"], "n": lambda r: r["n"]}
>>> [r["id"] for r in sort_rows(rows, columns=cols, sort="n", desc=True)]
['a', 'ab', 'b']
>>> [r["id"] for r in search_rows(rows, "A", text=lambda r: r["id"])]
['a', 'ab']
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

__all__ = ["Header", "header_links", "search_rows", "sort_rows"]

T = TypeVar("T")


def sort_rows(
    rows: Sequence[T],
    *,
    columns: Mapping[str, Callable[[T], Any]],
    sort: str | None,
    desc: bool = False,
) -> list[T]:
    """Rows ordered by the column ``sort`` (unknown or None: as given); stable."""
    key = columns.get(sort) if sort is not None else None
    if key is None:
        return list(rows)
    return sorted(rows, key=key, reverse=desc)


def search_rows(rows: Sequence[T], query: str, *, text: Callable[[T], str]) -> list[T]:
    """Rows whose text contains every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    if not words:
        return list(rows)
    return [r for r in rows if all(w in text(r).lower() for w in words)]


@dataclass(frozen=True, slots=True)
class Header:
    column: str
    #: query string that sorts by this column (toggling the direction if it is sorted)
    href: str
    #: "asc" / "desc" on the sorted column, else ""
    state: str


def header_links(
    columns: Sequence[str],
    *,
    query: str,
    sort: str | None,
    desc: bool,
    descending_first: Collection[str] = (),
) -> list[Header]:
    """Column headers as links: the sorted column toggles, another starts in its default.

    >>> [(h.column, h.href, h.state) for h in header_links(["id", "n"], query="x", sort="n",
    ...  desc=True, descending_first={"n"})]
    [('id', '?q=x&sort=id', ''), ('n', '?q=x&sort=n', 'desc')]
    """
    out = []
    for c in columns:
        if c == sort:
            next_desc = not desc
            state = "desc" if desc else "asc"
        else:
            next_desc = c in descending_first
            state = ""
        params = {"q": query} if query else {}
        params["sort"] = c
        if next_desc:
            params["desc"] = "1"
        out.append(Header(c, "?" + urlencode(params), state))
    return out
