"""The stages' own rules: robust watermark, re-sent records, idle upstreams, ticks."""

from __future__ import annotations

from app.core.events import RequestEvent, validate_event
from app.core.settings import DetectionSettings
from app.core.stages.account import AccountStage
from app.core.stages.campaign import CampaignStage
from app.core.stages.clock import UpstreamClock
from app.core.stages.pivot import PivotStage
from app.core.stages.records import LinkInput, PivotInput, TickLinks
from tests.conftest import event_dict

T0 = 1_767_225_600_000
S = DetectionSettings()


def ev(i: int, ts: int, account: str = "a1") -> RequestEvent:
    return validate_event(event_dict(event_id=f"e{i}", ts_ms=ts, account_id=account))


def test_one_event_far_ahead_does_not_make_live_traffic_late() -> None:
    stage = AccountStage(S, partition=0, pivot_partitions=2)
    live = [ev(i, T0 + i * 1_000) for i in range(20)]
    outlier = ev(999, T0 + 50 * 60_000)  # a skewed client clock, 50 min ahead
    after = [ev(100 + i, T0 + 20_000 + i * 1_000) for i in range(200)]
    out = stage.process([*live, outlier, *after], emitted_ms=0)
    assert out.late == 0
    assert out.accepted == 221
    # the watermark follows the live traffic (3rd newest: outlier, 219 s, 218 s), not
    # the outlier
    assert stage.watermark_ms == T0 + 218_000 - S.grace_ms


def test_several_events_ahead_do_move_the_watermark() -> None:
    stage = AccountStage(S, partition=0, pivot_partitions=2)
    ahead = [ev(10 + i, T0 + 3_600_000 + i) for i in range(S.watermark_rank)]
    out = stage.process([ev(0, T0), *ahead, ev(50, T0 + 1_000)], emitted_ms=0)
    assert out.late == 1  # real traffic moved on: the old-time event is late


def test_a_resent_record_is_not_counted_twice() -> None:
    stage = AccountStage(S, partition=0, pivot_partitions=1)
    events = [ev(i, T0 + i * 1_000, account=f"a{i % 3}") for i in range(30)]
    # later traffic moves the watermark past the first tick bucket: its observations go
    events += [ev(100 + i, T0 + 12 * 60_000 + i, account="b") for i in range(3)]
    rec = stage.process(events, emitted_ms=0).pivot_inputs[0]
    assert {o[2] for o in rec.obs} == {"a0", "a1", "a2"}
    a, b = (
        PivotStage(S, partition=0, upstream_partitions=1),
        PivotStage(S, partition=0, upstream_partitions=1),
    )
    a.receive(rec)
    b.receive(rec)
    assert b.receive(rec) == len(rec.obs)  # all of it recognised as a re-send
    later = PivotInput(0, T0 + 3_600_000, rec.first_seq + len(rec.obs), [], [])
    for p in (a, b):
        p.receive(later)
        p.advance(emitted_ms=0)
    key = "subnet:203.0.113.0/24"
    assert a.pivots[key].sums.view(now_ms=T0 + 60_000) == b.pivots[key].sums.view(
        now_ms=T0 + 60_000
    )
    assert a.pivots[key].accounts.keys() == b.pivots[key].accounts.keys() == {"a0", "a1", "a2"}


def test_a_clock_waits_for_every_upstream_and_skips_idle_ones() -> None:
    c = UpstreamClock(3)
    c.update(0, 500)
    c.update(1, 300)
    assert c.now_ms is None  # partition 2 never reported
    c.mark_idle(2)
    assert c.now_ms == 300
    c.update(2, 100)  # back from idle, behind: the clock never goes back
    assert c.now_ms == 300
    c.update(1, 900)
    assert c.now_ms == 300  # now 2 holds it (100) but the clock stays
    c.update(2, 800)
    assert c.now_ms == 500


def test_pivot_ticks_at_every_boundary_with_exactly_the_traffic_before_it() -> None:
    tick = S.linkage_tick_ms
    stage = AccountStage(S, partition=0, pivot_partitions=1)
    start = T0 - T0 % tick
    events = [ev(i, start + 1 + i * 60_000, account=f"a{i % 2}") for i in range(40)]
    rec = stage.process(events, emitted_ms=0).pivot_inputs[0]
    p = PivotStage(S, partition=0, upstream_partitions=1)
    p.receive(rec)
    out = p.advance(emitted_ms=0)
    assert out.links is not None
    ticks = [t.tick_ms for t in out.links.ticks]
    assert ticks == list(range(start + tick, rec.watermark_ms + 1, tick))
    assert all(t.tick_ms <= out.links.clock_ms for t in out.links.ticks)  # type: ignore[operator]


def test_campaign_stage_ignores_ticks_it_already_handled() -> None:
    c = CampaignStage(S, upstream_partitions=1)
    links = [
        (f"a{i}", k, 30, 600, 30, 30, 30, 1, 0, 0, 0)
        for i in range(6)
        for k in ("payment:x", "tls:y")
    ]
    rec = LinkInput(0, 600_000, [TickLinks(600_000, False, links)])
    c.receive(rec)
    first = c.advance(emitted_ms=0).alerts
    assert {a.entity_type for a in first} == {"campaign", "account"}
    c.receive(rec)  # re-sent after the pivot stage restarted
    assert c.advance(emitted_ms=0).alerts == []
    assert len(c.links) == 6


def _obs(end: int, key: str, account: str) -> list:
    return [end, key, account, 500, 100, 1, 0, 0, 0, 2, 40, 0, 0, 2, 2, 900, 0]


def test_pivot_order_does_not_depend_on_how_account_partitions_interleave() -> None:
    """Pivots created in one bucket take their place in key order at the tick: the
    order entity models learn in and full ticks link in is the events', whether the
    accounts behind them came through one account partition or two."""
    tick = S.linkage_tick_ms
    end = T0 - T0 % tick + tick
    keys = [f"template:t{i}" for i in (5, 2, 9, 1, 7)]
    firsts = [_obs(end, k, "a") for k in keys]
    seconds = [_obs(end, k, f"b{i}") for i, k in enumerate(keys)]
    orders = []
    for split in ([firsts + seconds], [seconds[::-1], firsts]):
        stage = PivotStage(S, partition=0, upstream_partitions=len(split))
        for source, obs in enumerate(split):
            stage.receive(PivotInput(source, end + tick, 0, obs, []))
        stage.advance(emitted_ms=0)
        orders.append(list(stage.pivots))
    assert orders[0] == orders[1] == sorted(keys)


def test_a_solo_indicator_promoted_in_a_bucket_keeps_its_earlier_traffic_in_any_order() -> None:
    """An indicator seen by one account, then in one bucket by that account again and by
    a second: the new pivot holds both of the first account's observations whether its
    own came first (one account partition: event order) or the second account's did
    (two partitions: the second's partition applied first)."""
    from app.core.campaigns.values import F_REQ

    tick = S.linkage_tick_ms
    end1 = T0 - T0 % tick + tick
    end2 = end1 + tick
    key = "template:t1"
    a1, a2, b2 = _obs(end1, key, "a"), _obs(end2, key, "a"), _obs(end2, key, "b")
    sums = []
    for split in ([[a1, a2, b2]], [[b2], [a1, a2]]):
        stage = PivotStage(S, partition=0, upstream_partitions=len(split))
        for source, obs in enumerate(split):
            stage.receive(PivotInput(source, end2 + tick, 0, obs, []))
        stage.advance(emitted_ms=0)
        p = stage.pivots[key]
        sums.append((sorted(p.accounts), p.sums.view(now_ms=end2 + tick)[F_REQ]))
    assert sums[0] == sums[1] == (["a", "b"], 6)
