from __future__ import annotations

from app.tools.console.timeline import HOUR_MS, MAX_HOURS, hourly_timeline


def test_empty() -> None:
    t = hourly_timeline(joined_ms=[], alerts=[])
    assert t.hours_ms == () and t.members == ()


def test_a_long_campaign_keeps_its_newest_hours_and_counts_earlier_members() -> None:
    joined = [0, 5 * HOUR_MS, (MAX_HOURS + 9) * HOUR_MS]
    t = hourly_timeline(joined_ms=joined, alerts=[(0, 1), ((MAX_HOURS + 9) * HOUR_MS, 7)])
    assert len(t.hours_ms) == MAX_HOURS and t.hours_ms[-1] == (MAX_HOURS + 9) * HOUR_MS
    assert t.members[0] == 2 and t.members[-1] == 3  # the two early members are not lost
    assert sum(t.alerts) == 1 and t.requests[-1] == 7


def test_the_hours_newest_alert_gives_the_requests() -> None:
    t = hourly_timeline(joined_ms=[10], alerts=[(50, 9), (20, 4), (HOUR_MS - 1, None)])
    assert t.requests == (9,) and t.alerts == (3,)
