from __future__ import annotations

import pytest

from app.core.events import RequestEvent, validate_event
from app.core.features.request import HARVEST_UNITS, request_signals
from tests.conftest import event_dict

DAY = 86_400_000


def ev(**kw: object) -> RequestEvent:
    return validate_event(event_dict(**kw))


def test_harvest_components() -> None:
    assert request_signals(ev()).harvest == 0.0
    assert request_signals(ev(category="coding")).harvest == 0.35
    full = ev(
        category="agentic", thinking=True, completion_tokens=4096, max_tokens=4096, tool_count=2
    )
    s = request_signals(full)
    assert s.at_max and s.long_output and s.tools and s.harvest == pytest.approx(1.0)
    assert request_signals(ev(completion_tokens=5000)).long_output  # long without max_tokens


@pytest.mark.parametrize("category", ["coding", "chat"])
@pytest.mark.parametrize("thinking", [True, False])
@pytest.mark.parametrize("completion_tokens", [100, 5000])
@pytest.mark.parametrize("tool_count", [0, 3])
def test_harvest_units_are_the_weights_in_twentieths(
    category: str, thinking: bool, completion_tokens: int, tool_count: int
) -> None:
    s = request_signals(
        ev(
            category=category,
            thinking=thinking,
            completion_tokens=completion_tokens,
            tool_count=tool_count,
        )
    )
    weighted = 0.35 * s.capability + 0.25 * s.thinking + 0.3 * s.long_output + 0.1 * s.tools
    assert isinstance(s.harvest_units, int)
    assert s.harvest_units == round(weighted * HARVEST_UNITS)
    assert s.harvest == s.harvest_units / HARVEST_UNITS


def test_mismatch_needs_both_countries() -> None:
    assert request_signals(ev(country="US", billing_country="SG")).mismatch
    assert not request_signals(ev(country="US")).mismatch
    assert not request_signals(ev(country="US", billing_country="US")).mismatch


def test_youth_and_unknown_age() -> None:
    t = 1_767_225_600_000
    assert request_signals(ev(ts_ms=t, account_created_ms=t - 2 * DAY)).young
    old = request_signals(ev(ts_ms=t, account_created_ms=t - 400 * DAY))
    assert not old.young and old.age_known
    unknown = request_signals(ev(ts_ms=t))
    assert not unknown.young and not unknown.age_known


def test_risky_ip_kinds() -> None:
    for kind in ("proxy", "datacenter", "vpn", "tor"):
        assert request_signals(ev(ip_kind=kind)).risky_ip
    for kind in ("residential", "mobile", "unknown"):
        assert not request_signals(ev(ip_kind=kind)).risky_ip
