from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.core.windows.hll import HyperLogLog
from app.core.windows.sliding import DAY_MS, HOUR_MS, TEN_MIN_MS, SlidingSums


def test_views_of_different_spans() -> None:
    w = SlidingSums(n_fields=1)
    for minute in range(0, 180, 5):  # one request every 5 minutes for 3 hours
        w.add(minute * 60_000, (1,))
    now = 180 * 60_000
    assert w.view(now_ms=now, span_ms=TEN_MIN_MS) == [2]
    assert w.view(now_ms=now, span_ms=HOUR_MS) == [12]
    assert w.view(now_ms=now) == [36]


def test_expiry_keeps_running_total_exact() -> None:
    w = SlidingSums(n_fields=2)
    w.add(0, (1, 10))
    w.add(DAY_MS, (2, 20))
    assert w.view(now_ms=DAY_MS + TEN_MIN_MS) == [2, 20]
    assert len(w) == 1  # the old bucket is gone: memory follows activity


def test_out_of_order_event_inside_horizon_lands_in_its_bucket() -> None:
    w = SlidingSums(n_fields=1)
    w.add(3 * HOUR_MS, (1,))
    w.add(HOUR_MS, (1,))  # late but within 24 h
    assert w.view(now_ms=3 * HOUR_MS + 1, span_ms=TEN_MIN_MS) == [1]
    assert w.view(now_ms=3 * HOUR_MS + 1) == [2]
    assert w.view(now_ms=DAY_MS + HOUR_MS + TEN_MIN_MS) == [1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3 * DAY_MS), st.integers(0, 10_000_000)), max_size=60),
    st.integers(0, DAY_MS),
)
def test_view_matches_brute_force(events: list[tuple[int, int]], after: int) -> None:
    w = SlidingSums(n_fields=1)
    for ts, v in events:  # any order: late events land in their buckets
        w.add(ts, (v,))
    now = max((ts for ts, _ in events), default=0) + after
    expected = sum(v for ts, v in events if ts - ts % TEN_MIN_MS + TEN_MIN_MS > now - DAY_MS)
    assert w.view(now_ms=now)[0] == expected  # integers: exact


def test_hll_error_is_small() -> None:
    h = HyperLogLog()
    for i in range(50_000):
        h.add(f"a{i}")
        h.add(f"a{i}")  # duplicates do not count
    assert abs(len(h) - 50_000) / 50_000 < 0.05
    assert len(HyperLogLog()) == 0


def test_until_now_leaves_out_later_buckets() -> None:
    w = SlidingSums(n_fields=1)
    w.add(0, (1,))
    w.add(3 * TEN_MIN_MS, (5,))  # ahead of the caller's clock
    assert w.view(now_ms=TEN_MIN_MS) == [6]
    assert w.view(now_ms=TEN_MIN_MS, until_now=True) == [1]
    assert w.view(now_ms=3 * TEN_MIN_MS, until_now=True) == [6]


@settings(max_examples=200, deadline=None)
@example(events=[(HOUR_MS, 1)], now=0, span=None, until_now=True)  # every bucket ahead
@given(
    st.lists(st.tuples(st.integers(0, 2 * DAY_MS), st.integers(0, 50)), max_size=80),
    st.integers(0, 2 * DAY_MS),
    st.sampled_from([TEN_MIN_MS, HOUR_MS, 3 * HOUR_MS, None]),
    st.booleans(),
)
def test_every_view_matches_brute_force(
    events: list[tuple[int, int]], now: int, span: int | None, until_now: bool
) -> None:
    """Short spans, the horizon, and traffic ahead of the clock, events in any order."""
    w = SlidingSums(n_fields=2)
    for ts, v in events:
        w.add(ts, (1, v))
    horizon_cut = now - (DAY_MS if span is None else span)

    def counted(ts: int) -> bool:
        start = ts - ts % TEN_MIN_MS
        if start + TEN_MIN_MS <= horizon_cut:
            return False
        # the horizon view counts buckets ahead of the clock unless until_now
        return start <= now or (span is None and not until_now)

    # the horizon view expires what it leaves out for good: check it last
    got = w.view(now_ms=now, span_ms=span, until_now=until_now)
    want = [0, 0]
    for ts, v in events:
        if counted(ts):
            want[0] += 1
            want[1] += v
    assert got == want
    assert len(w) <= len({ts - ts % TEN_MIN_MS for ts, _ in events})


def test_totals_past_32_bits_widen_the_storage_exactly() -> None:
    w = SlidingSums(n_fields=2, bucket_ms=HOUR_MS)
    big = 2**31 - 5
    w.add(0, (1, big))
    assert w.itemsize == 4
    w.add(HOUR_MS, (1, 10))  # the running total no longer fits in 32 bits
    assert w.itemsize == 8
    w.add(30 * 60_000, (1, big))  # an older bucket, itself past 32 bits now
    assert w.view(now_ms=2 * HOUR_MS) == [3, 2 * big + 10]
    assert w.view(now_ms=2 * HOUR_MS, span_ms=HOUR_MS) == [1, 10]
    assert w.view(now_ms=DAY_MS + HOUR_MS + 1) == [1, 10]  # expiry subtracts exactly


def test_bucket_numbers_of_present_day_event_times() -> None:
    """Buckets are stored by number (start / bucket_ms): 2100's 10-minute buckets fit."""
    t = 4_102_444_800_000  # 2100-01-01
    w = SlidingSums(n_fields=1)
    w.add(t - 1, (1,))
    w.add(t - TEN_MIN_MS - 1, (2,))  # an older bucket, inserted before
    assert w.itemsize == 4
    assert w.last_bucket_ms == t - TEN_MIN_MS
    assert w.view(now_ms=t, span_ms=TEN_MIN_MS) == [1]
    assert w.view(now_ms=t) == [3]
    tiny = SlidingSums(n_fields=1, bucket_ms=1)  # numbers past 32 bits: widened
    tiny.add(t, (1,))
    tiny.add(t - 5, (1,))
    assert tiny.view(now_ms=t) == [2]
