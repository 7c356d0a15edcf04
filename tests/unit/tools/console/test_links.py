from __future__ import annotations

from app.core.stages.records import LinkInput, TickLinks, split_link_input
from app.tools.console.links import LinkIndex
from tests.unit.tools.console.factory import links_record

T = 600_000


def test_upsert_replaces_and_zero_requests_withdraws() -> None:
    idx = LinkIndex()
    idx.apply(links_record(0, T, [("a", "payment:p", 3), ("a", "tls:t", 1), ("b", "tls:t", 2)]))
    idx.apply(links_record(0, 2 * T, [("a", "payment:p", 7), ("a", "tls:t", 0)]))
    assert idx.of_account("a") == {"payment:p": 7}
    assert idx.accounts_on("tls:t") == {"b"}
    assert len(idx) == 2 and idx.records == 2


def test_dropped_pivot_withdraws_every_link_on_it() -> None:
    idx = LinkIndex()
    idx.apply(links_record(0, T, [("a", "subnet:s", 3), ("b", "subnet:s", 1), ("b", "tls:t", 1)]))
    idx.apply(LinkInput(0, 2 * T, [TickLinks(2 * T, False, [], ["subnet:s"])]))
    assert idx.copy() == {"b": {"tls:t": 1}}
    assert idx.accounts_on("subnet:s") == set()


def test_a_refresh_tick_changes_only_what_it_names() -> None:
    idx = LinkIndex()
    idx.apply(links_record(0, T, [("a", "payment:p", 3), ("b", "payment:p", 1)]))
    idx.apply(links_record(1, T, [("c", "tls:t", 2)]))
    idx.apply(links_record(0, 2 * T, [("a", "payment:p", 0), ("b", "payment:p", 2)], refresh=True))
    assert idx.copy() == {"b": {"payment:p": 2}, "c": {"tls:t": 2}}


def test_a_tick_split_over_records_loses_none_of_its_links() -> None:
    links = [(f"a{i}", "template:x", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0) for i in range(5)]
    rec = LinkInput(0, 2 * T, [TickLinks(2 * T, True, links)])
    idx = LinkIndex()
    idx.apply(links_record(0, T, [("old", "template:x", 0)]))
    for part in split_link_input(rec, max_links=2):
        idx.apply(part)
    assert idx.accounts_on("template:x") == {f"a{i}" for i in range(5)}
