from __future__ import annotations

from app.tools.console.accounts import account_view
from app.tools.console.store import AlertStore
from tests.unit.tools.console.conftest import CID
from tests.unit.tools.console.factory import T0, links_record


def test_an_account_with_its_alerts_campaign_and_indicators(store: AlertStore) -> None:
    v = account_view(store.snapshot(), "acct-x00")
    assert v is not None
    assert [a.detectors[0] for a in v.alerts] == ["campaign_linkage", "account_window_hst"]
    assert v.latest is v.alerts[0] and v.campaign_ids == (CID,)
    assert [(i.key, i.requests, i.shared_with) for i in v.indicators] == [
        ("payment:pay-1", 5, 5),
        ("subnet:10.1.2.0/24", 3, 3),
    ]


def test_an_account_outside_campaigns_and_unknown_ones(store: AlertStore) -> None:
    v = account_view(store.snapshot(), "acct-benign")
    assert v is not None and v.campaign_ids == () and v.indicators == ()
    assert account_view(store.snapshot(), "acct-never-seen") is None
    assert account_view(store.snapshot(), "cmp-0123456789ab") is None  # not an account


def test_an_account_known_by_its_links_only() -> None:
    s = AlertStore()
    s.add_links(links_record(0, T0, [("a", "tls:t", 2), ("b", "tls:t", 1)]))
    v = account_view(s.snapshot(), "a")
    assert v is not None and v.alerts == () and v.latest is None
    assert [(i.key, i.shared_with) for i in v.indicators] == [("tls:t", 1)]
