"""PivotState member records: expiry by the 24 h view, co-location, moments."""

from __future__ import annotations

from app.core.campaigns.pivot_state import R_N, PivotState
from app.core.windows.sliding import DAY_MS

#: the bucket width the observations were added in (their order's slack)
BUCKET_MS = 600_000
VALUES = [3, 60, 0, 3, 3, 3, 9000, 0]


def _state(*members: tuple[str, int]) -> PivotState:
    p = PivotState()
    for account, last_ms in members:
        p.add(account, last_ms, last_ms, VALUES, subnet_tag=1)
    return p


def test_expire_drops_exactly_the_members_whose_last_request_left_the_view() -> None:
    p = _state(("a", 1_000), ("b", 5_000), ("c", 9_000))
    assert p.expire(5_000 + DAY_MS, bucket_ms=BUCKET_MS) == ["a"]
    assert sorted(p.accounts) == ["b", "c"]
    assert p.expire(5_000 + DAY_MS, bucket_ms=BUCKET_MS) == []
    assert p.expire(9_001 + DAY_MS, bucket_ms=BUCKET_MS) == ["b", "c"]
    assert p.accounts == {} and p.subnets == {} and p.distinct_accounts == 0


def test_a_member_that_came_back_is_kept_and_older_ones_behind_it_still_go() -> None:
    p = _state(("a", 1_000), ("b", 2_000))
    p.add("a", 3_000, 3 * DAY_MS, VALUES, subnet_tag=1)  # a is active again: to the end
    assert list(p.accounts) == ["b", "a"]
    assert p.expire(2_500 + DAY_MS, bucket_ms=BUCKET_MS) == ["b"]
    assert list(p.accounts) == ["a"] and p.accounts["a"][R_N] == 6


def test_members_out_of_order_within_one_bucket_are_all_found() -> None:
    # one bucket's observations come in any order of their last request: the scan goes
    # on past a fresher record while it is within a bucket of the cutoff
    p = _state(("a", 5 * BUCKET_MS - 1), ("b", 4 * BUCKET_MS), ("c", 4 * BUCKET_MS + 7))
    p.add("d", 6 * BUCKET_MS, 6 * BUCKET_MS, VALUES, subnet_tag=2)
    assert p.expire(4 * BUCKET_MS + 8 + DAY_MS, bucket_ms=BUCKET_MS) == ["b", "c"]
    assert list(p.accounts) == ["a", "d"]
    assert p.expire(7 * BUCKET_MS + DAY_MS, bucket_ms=BUCKET_MS) == ["a", "d"]


def test_an_orgs_members_count_once_among_independent_accounts() -> None:
    p = PivotState()
    for i in range(6):
        p.add(f"org-a-{i}", 1_000, 1_000, VALUES, subnet_tag=1, org_tag=7)
    for i in range(3):
        p.add(f"solo-{i}", 1_000, 1_000, VALUES, subnet_tag=2)
    p.add("org-b-0", 1_000, 1_000, VALUES, subnet_tag=3, org_tag=9)
    assert p.distinct_accounts == 10
    assert p.independent_accounts == 5  # org a, org b, three accounts of no org
    p.add("org-a-0", 5_000, 2 * DAY_MS, VALUES, subnet_tag=1, org_tag=7)  # stays
    p.expire(1_001 + DAY_MS, bucket_ms=BUCKET_MS)
    assert sorted(p.accounts) == ["org-a-0"]
    assert p.independent_accounts == 1 and p.orgs == {7: 1} and p.org_members == 1


def test_a_pickled_pivot_comes_back_equal() -> None:
    import pickle

    p = _state(("a", 1_000), ("b", 5_000))
    p.add("c", 6_000, 7_000, VALUES, subnet_tag=2, trust=1, org_tag=7)
    p.linked = {"a": (3, 0, 0, 1)}
    q = pickle.loads(pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))
    assert q.accounts == p.accounts and list(q.accounts) == list(p.accounts)
    assert all(q.accounts[a] is not q.accounts[b] for a in q.accounts for b in q.accounts if a != b)
    for name in PivotState.__slots__:
        if name not in ("accounts", "sums", "moments", "overflow"):
            assert getattr(q, name) == getattr(p, name), name
    assert q.sums.view(now_ms=8_000) == p.sums.view(now_ms=8_000)
    q.add("a", 8_000, 8_000, VALUES, subnet_tag=1)  # the records are live arrays again
    assert q.accounts["a"][R_N] == 6 and p.accounts["a"][R_N] == 3
