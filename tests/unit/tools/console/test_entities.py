from __future__ import annotations

import pytest

from app.tools.console.entities import entity_rows
from app.tools.console.store import AlertStore
from tests.unit.tools.console.conftest import CID
from tests.unit.tools.console.factory import HOUR, T0, subnet_alert


def test_one_row_per_entity_with_the_campaign_members_linked_on_it(store: AlertStore) -> None:
    store.add(subnet_alert("10.1.2.0/24", now_ms=T0 + 5 * HOUR, accounts=30))
    store.add(subnet_alert("10.9.9.0/24", now_ms=T0 + 4 * HOUR))
    rows = entity_rows(store.snapshot())
    assert [r.newest.entity_id for r in rows] == ["10.1.2.0/24", "10.9.9.0/24"]
    first = rows[0]
    assert first.alerts == 2 and first.first_seen_ms == T0 + 3 * HOUR
    assert first.accounts == 30 and first.requests == 120
    assert first.campaign_members == ((CID, 4),)
    assert rows[1].campaign_members == ()


def test_filter_by_type(store: AlertStore) -> None:
    assert [r.newest.entity_type for r in entity_rows(store.snapshot(), entity_type="subnet")] == [
        "subnet"
    ]
    assert entity_rows(store.snapshot(), entity_type="fingerprint") == []
    with pytest.raises(ValueError):
        entity_rows(store.snapshot(), entity_type="account")
