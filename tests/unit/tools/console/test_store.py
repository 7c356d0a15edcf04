from __future__ import annotations

import threading

import pytest

from app.core.stages.records import encode_link_inputs
from app.tools.console.store import AlertStore
from tests.unit.tools.console.factory import T0, links_record, subnet_alert


def test_alerts_are_deduplicated_by_id_and_unreadable_messages_counted() -> None:
    s = AlertStore()
    a = subnet_alert("10.0.0.0/24", now_ms=T0)
    assert s.add_raw(a.model_dump_json().encode())
    assert not s.add(a)
    assert not s.add_raw(b'{"alert_id": "x"}')
    assert not s.add_raw(None)
    snap = s.snapshot()
    assert snap.alerts == (a,) and snap.invalid == 2


def test_bound_forgets_the_oldest_and_lets_its_id_back_in() -> None:
    s = AlertStore(max_alerts=2)
    a, b, c = (subnet_alert(f"10.0.{i}.0/24", now_ms=T0) for i in range(3))
    s.add_all([a, b, c])
    assert s.snapshot().alerts == (b, c) and s.snapshot().evicted == 1
    assert s.add(a)  # its id left with it
    with pytest.raises(ValueError):
        AlertStore(max_alerts=0)


def test_snapshot_is_cached_until_something_changes() -> None:
    s = AlertStore()
    first = s.snapshot()
    assert s.snapshot() is first
    s.add_links(links_record(0, T0, [("a", "payment:p", 1)]))
    second = s.snapshot()
    assert second is not first and second.links == {"a": {"payment:p": 1}}
    assert second.link_records == 1
    assert first.links == {}  # an older snapshot does not change


def test_links_raw_decodes_the_topic_value_and_counts_garbage() -> None:
    s = AlertStore()
    raw = encode_link_inputs([links_record(1, T0, [("a", "tls:x", 4), ("b", "tls:x", 2)])])
    assert s.add_links_raw(raw)
    assert not s.add_links_raw(b"[[1, 2]]")
    assert not s.add_links_raw(b"not json")
    snap = s.snapshot()
    assert snap.links == {"a": {"tls:x": 4}, "b": {"tls:x": 2}} and snap.invalid == 2


def test_concurrent_adds_lose_nothing() -> None:
    s = AlertStore()
    alerts = [subnet_alert(f"10.{i // 250}.{i % 250}.0/24", now_ms=T0) for i in range(2000)]

    def add(part: int) -> None:
        for a in alerts[part::4]:
            s.add(a)
            s.snapshot()

    threads = [threading.Thread(target=add, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.alert_id for a in s.snapshot().alerts} == {a.alert_id for a in alerts}
