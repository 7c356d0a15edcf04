from __future__ import annotations

import pytest

from app.core.windows.tumbling import TumblingWindows, window_start


def make(window_ms: int = 1_000, grace_ms: int = 200) -> TumblingWindows[str, list[int]]:
    return TumblingWindows(window_ms=window_ms, grace_ms=grace_ms, factory=list)


def test_window_start_alignment() -> None:
    assert window_start(1_999, 1_000) == 1_000
    assert window_start(2_000, 1_000) == 2_000


def test_window_closes_only_after_grace() -> None:
    w = make()
    w.add("a", 100).append(100)  # type: ignore[union-attr]
    w.add("a", 1_100).append(1_100)  # type: ignore[union-attr]
    assert list(w.close_ready()) == []  # watermark 900 < end 1000
    w.add("b", 1_200).append(1_200)  # type: ignore[union-attr]
    closed = list(w.close_ready())
    assert closed == [(0, "a", [100])]


def test_out_of_order_within_grace_is_kept() -> None:
    w = make()
    w.add("a", 1_150)
    state = w.add("a", 950)  # watermark 950: window [0, 1000) still open
    assert state is not None
    state.append(950)
    assert w.late_events == 0


def test_late_beyond_grace_is_counted_not_added() -> None:
    w = make()
    w.add("a", 100)
    w.add("a", 1_300)
    list(w.close_ready())
    assert w.add("a", 999) is None
    assert w.late_events == 1
    assert w.open_windows == 1


def test_closed_windows_release_memory() -> None:
    w = make()
    for i in range(100):
        w.add(f"k{i}", 10)
    assert w.open_windows == 100
    w.add("z", 5_000)
    assert len(list(w.close_ready())) == 100
    assert w.open_windows == 1


def test_close_all_in_order() -> None:
    w = make()
    w.add("a", 3_500)
    w.add("a", 3_400)
    w.add("b", 3_900)
    starts = [s for s, _, _ in w.close_all()]
    assert starts == sorted(starts)
    assert w.open_windows == 0


def test_rejects_non_positive_window() -> None:
    with pytest.raises(ValueError):
        TumblingWindows(window_ms=0, grace_ms=0, factory=list)
