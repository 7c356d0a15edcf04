from __future__ import annotations

import pytest

from app.tools.console.store import AlertStore
from tests.unit.tools.console.factory import (
    HOUR,
    T0,
    account_window_alert,
    campaign_round,
    links_record,
    subnet_alert,
)

CID = "cmp-0123456789ab"
MEMBERS = [f"acct-x{i:02d}" for i in range(6)]
REQUESTS = {a: 10 + i for i, a in enumerate(MEMBERS)}


@pytest.fixture
def store() -> AlertStore:
    """A campaign of 6 members found in two rounds, a subnet alert, some links."""
    s = AlertStore()
    s.add_all(
        campaign_round(
            CID,
            now_ms=T0,
            members=MEMBERS[:3],
            new=MEMBERS[:3],
            requests=REQUESTS,
            families=2,
            linked_via={"payment": 3, "template": 2},
        )
    )
    s.add_all(
        campaign_round(
            CID,
            now_ms=T0 + 2 * HOUR + 600_000,
            members=MEMBERS,
            new=MEMBERS[3:],
            requests=REQUESTS,
            linked_via={"payment": 6, "subnet": 4, "template": 5},
        )
    )
    s.add(subnet_alert("10.1.2.0/24", now_ms=T0 + 3 * HOUR))
    s.add(account_window_alert("acct-x00", now_ms=T0 - HOUR))
    s.add(account_window_alert("acct-benign", now_ms=T0 + HOUR))
    s.add_links(
        links_record(
            0,
            T0,
            [(a, "payment:pay-1", 5) for a in MEMBERS]
            + [(a, "subnet:10.1.2.0/24", 3) for a in MEMBERS[:4]]
            + [(a, "payment:pay-2", 1) for a in MEMBERS[4:]]
            + [("acct-x05", "tls:t13|sdk", 2)],
        )
    )
    return s
