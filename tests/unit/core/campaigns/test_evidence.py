from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.campaigns.evidence import CountMoments, Evidence, homogeneity


def ev(**kw: float) -> Evidence:
    base = dict(
        accounts=20, harvest=0.9, youth=0.0, mismatch=0.0, infrastructure=0.0, coordination=0.0
    )
    base.update(kw)
    return Evidence(**base)  # type: ignore[arg-type]


def test_one_shared_indicator_is_not_enough() -> None:
    assert not ev(youth=1.0).suspicious(min_accounts=5, min_harvest=0.75)
    assert ev(youth=1.0, mismatch=0.9).suspicious(min_accounts=5, min_harvest=0.75)


def test_harvest_and_size_gates() -> None:
    strong = dict(youth=1.0, mismatch=1.0, infrastructure=1.0, coordination=1.0)
    assert not ev(harvest=0.5, **strong).suspicious(min_accounts=5, min_harvest=0.75)
    assert not ev(accounts=4, **strong).suspicious(min_accounts=5, min_harvest=0.75)


def test_score_grows_with_evidence() -> None:
    assert ev(youth=1, mismatch=1, infrastructure=1).score > ev(youth=1, mismatch=1).score
    # 0.3 * harvest + 0.7 * the mean of the three strongest families (the fourth is ignored)
    assert ev().score == pytest.approx(0.27)
    assert ev(youth=0.6, mismatch=0.3).score == pytest.approx(0.27 + 0.7 * 0.9 / 3)
    top3 = dict(youth=1.0, mismatch=0.9, infrastructure=0.8)
    assert ev(**top3, coordination=0.1).score == ev(**top3).score
    assert ev(harvest=1.0, youth=1, mismatch=1, infrastructure=1).score == pytest.approx(1.0)


def test_homogeneity() -> None:
    assert homogeneity([10, 10, 10]) == 1.0
    assert homogeneity([1, 1, 1, 1]) == 0.0  # too quiet to judge
    assert homogeneity([5, 50, 500]) == 0.0
    assert homogeneity([5, 6]) == 0.0  # too few members


@given(
    st.lists(
        st.tuples(st.sampled_from(["insert", "bump", "reset", "remove"]), st.integers(0, 40)),
        max_size=200,
    )
)
def test_count_moments_agree_with_homogeneity(ops: list[tuple[str, int]]) -> None:
    """The running moments give what a pass over the counts gives, after any edits."""
    counts: list[int] = []
    m = CountMoments()
    for op, arg in ops:
        if op == "insert" or not counts:
            counts.append(arg % 7 + 1)
            m.insert(counts[-1])
            continue
        i = arg % len(counts)
        if op == "bump":
            m.replace(counts[i], counts[i] + 1)
            counts[i] += 1
        elif op == "reset":
            m.replace(counts[i], 1)
            counts[i] = 1
        else:
            m.remove(counts.pop(i))
        assert m.homogeneity() == pytest.approx(homogeneity(counts), abs=1e-9)
    assert m.n == len(counts)
