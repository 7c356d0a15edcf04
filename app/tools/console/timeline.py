"""A campaign's hours in event time: members joining, alerts, requests on its indicators.

Alerts carry no per-hour request count: ``requests`` is what the hour's newest alert of
the campaign says about the members' traffic on the indicators that link them (a
trailing 24 h figure), None for hours without an alert.

>>> H = 3_600_000
>>> t = hourly_timeline(joined_ms=[0, 10, H + 5], alerts=[(0, 9), (H + 5, 20), (3 * H, 25)])
>>> t.hours_ms, t.joined, t.members, t.alerts, t.requests
((0, 3600000, 7200000, 10800000), (2, 1, 0, 0), (2, 3, 3, 3), (1, 1, 0, 1), (9, 20, None, 25))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HOUR_MS", "Timeline", "hourly_timeline"]

HOUR_MS = 3_600_000
#: a timeline longer than this keeps its newest hours (two weeks)
MAX_HOURS = 14 * 24


@dataclass(frozen=True, slots=True)
class Timeline:
    #: start of each hour (UTC, event time), contiguous
    hours_ms: tuple[int, ...]
    #: members whose first alert in the campaign fell in the hour
    joined: tuple[int, ...]
    #: members alerted so far, at the end of the hour
    members: tuple[int, ...]
    #: alerts of the campaign (the campaign's and its members') in the hour
    alerts: tuple[int, ...]
    #: requests on the linking indicators (trailing 24 h) as of the hour's newest alert
    requests: tuple[int | None, ...]


def hourly_timeline(
    *, joined_ms: Iterable[int], alerts: Iterable[tuple[int, int | None]]
) -> Timeline:
    """``joined_ms``: each member's first alert time; ``alerts``: (ts_ms, requests or None)."""
    joined_l = sorted(joined_ms)
    alerts_l = sorted(alerts, key=lambda a: a[0])
    times = joined_l + [t for t, _ in alerts_l]
    if not times:
        return Timeline((), (), (), (), ())
    first = min(times) // HOUR_MS
    last = max(times) // HOUR_MS
    first = max(first, last - MAX_HOURS + 1)
    n = last - first + 1
    joined = [0] * n
    count = [0] * n
    requests: list[int | None] = [None] * n
    before = 0
    for t in joined_l:
        i = t // HOUR_MS - first
        if i < 0:
            before += 1
        else:
            joined[i] += 1
    for t, r in alerts_l:
        i = t // HOUR_MS - first
        if i >= 0:
            count[i] += 1
            if r is not None:
                requests[i] = r
    members = []
    total = before
    for j in joined:
        total += j
        members.append(total)
    return Timeline(
        hours_ms=tuple((first + i) * HOUR_MS for i in range(n)),
        joined=tuple(joined),
        members=tuple(members),
        alerts=tuple(count),
        requests=tuple(requests),
    )
