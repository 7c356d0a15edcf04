"""The idle rule: which input partitions a worker may declare idle (app.runtime.idle)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from app.runtime.idle import idle_partitions

IDLE_AFTER_S = 10.0


def decide(
    *,
    now: float = 100.0,
    restoring: bool = False,
    quiet_since: Mapping[int, float] | None = None,
    applied_to: Mapping[int, int] | None = None,
    highwater: Mapping[int, int | None] | None = None,
    partitions: tuple[int, ...] = (0,),
) -> list[int]:
    """One partition quiet for 50 s and caught up (offset 7 of 7) unless told otherwise."""
    quiet = {0: 50.0} if quiet_since is None else quiet_since
    applied = {0: 7} if applied_to is None else applied_to
    high = {0: 7} if highwater is None else highwater
    return idle_partitions(
        partitions,
        now=now,
        idle_after_s=IDLE_AFTER_S,
        restoring=restoring,
        quiet_since=quiet,
        applied_to=applied,
        highwater=lambda p: high.get(p),
    )


def test_a_caught_up_quiet_partition_is_idle() -> None:
    assert decide() == [0]
    # an empty partition taken 10 s ago, nothing ever sent: idle (liveness)
    assert decide(quiet_since={0: 90.0}, applied_to={}, highwater={0: 0}) == [0]


def test_nothing_is_idle_while_the_stage_restores_or_reads_back() -> None:
    """At start-up the taken partitions' state lacks what the broker holds until the
    restore and read-back are done: no partition of the stage is idle meanwhile, not even
    one that looks caught up and quiet."""
    assert decide(restoring=True) == []
    assert (
        decide(
            restoring=True,
            partitions=(0, 1),
            quiet_since={0: 0.0, 1: 0.0},
            applied_to={0: 7, 1: 0},
            highwater={0: 7, 1: 0},
        )
        == []
    )


def test_a_partition_with_no_quiet_start_is_not_idle() -> None:
    """The start-up regression: a partition with nothing applied and no assignment time
    recorded was declared idle at once."""
    assert decide(quiet_since={}) == []
    assert decide(quiet_since={1: 0.0}) == []


def test_quiet_for_less_than_idle_after_is_not_idle() -> None:
    assert decide(quiet_since={0: 100.0 - IDLE_AFTER_S + 0.01}) == []
    assert decide(quiet_since={0: 100.0 - IDLE_AFTER_S}) == [0]


@pytest.mark.parametrize(
    ("applied", "high"),
    [({0: 6}, {0: 7}), ({}, {0: 7}), ({0: 7}, {0: None}), ({0: 7}, {})],
    ids=["one-behind", "nothing-applied", "highwater-unknown", "never-fetched"],
)
def test_data_in_flight_keeps_a_partition_live(
    applied: Mapping[int, int], high: Mapping[int, int | None]
) -> None:
    """Quiet but not caught up (messages fetched, buffered or not yet read back), or not
    known to be: declaring it idle would let the downstream clock run ahead of them."""
    assert decide(applied_to=applied, highwater=high) == []


def test_each_partition_on_its_own() -> None:
    got = decide(
        partitions=(0, 1, 2, 3),
        quiet_since={0: 50.0, 1: 95.0, 2: 50.0},
        applied_to={0: 7, 1: 3, 2: 2, 3: 0},
        highwater={0: 7, 1: 3, 2: 5, 3: 0},
    )
    assert got == [0]  # 1 recently active, 2 behind, 3 no quiet start
