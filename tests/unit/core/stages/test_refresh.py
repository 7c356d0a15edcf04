"""A links refresh re-sends only what changed: the campaign stage's links must stay
exactly the pivot stages' links out, and its per-member sums the sums of its links."""

from __future__ import annotations

import pytest

from app.core.events import RequestEvent
from app.core.settings import DetectionSettings
from app.core.stages.campaign import _SUMMARY_LEN, S_BUSIEST, CampaignStage, _sum
from app.core.stages.local import LocalTopology
from app.core.stages.partitioner import account_partitioner
from app.core.stages.records import TickLinks
from tests.unit.core.stages.sim import hydra_events


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[RequestEvent]:
    out = hydra_events(tmp_path_factory.mktemp("sim"), days=1.2, start_h=3)
    return sorted(out, key=lambda e: e.ts_ms)


def _pivot_links(topo: LocalTopology) -> dict[tuple[str, str], int]:
    return {
        (a, key): sent[0]
        for stage in topo.pivots
        for key, p in stage.pivots.items()
        for a, sent in p.linked.items()
    }


def _campaign_links(c: CampaignStage) -> dict[tuple[str, str], int]:
    return {(a, key): s[0] for a, mine in c.links.items() for key, s in mine.items()}


def _check_summaries(c: CampaignStage) -> None:
    for a, got in c._summaries.items():
        fresh = [0] * _SUMMARY_LEN
        for stats in c.links[a].values():
            _sum(fresh, stats)
        busiest = got[S_BUSIEST]
        assert (
            got[:S_BUSIEST] == fresh[:S_BUSIEST] and got[S_BUSIEST + 1 :] == fresh[S_BUSIEST + 1 :]
        ), a
        assert busiest in (-1, fresh[S_BUSIEST]), a


def test_campaign_links_stay_those_the_pivot_stages_sent(events: list[RequestEvent]) -> None:
    settings = DetectionSettings(linkage_refresh_ms=3_600_000)
    topo = LocalTopology(settings, account_partitions=4)
    refresh_links: list[int] = []
    for stage in topo.pivots:  # count what refresh ticks carry
        tick = stage._tick

        def counting(now: int, out: object, emitted_ms: int, _tick=tick) -> TickLinks:
            t = _tick(now, out, emitted_ms)  # type: ignore[arg-type]
            if t.refresh:
                refresh_links.append(len(t.links))
            return t

        stage._tick = counting  # type: ignore[method-assign]
    part = account_partitioner(4)
    checks = 0
    step = 2_000
    for i in range(0, len(events), step):
        by_p: dict[int, list[RequestEvent]] = {}
        for e in events[i : i + step]:
            by_p.setdefault(part(e.account_id), []).append(e)
        topo.process(sorted(by_p.items()))
        # every pivot partition's clock has been applied by the campaign stage here
        if topo.campaign.done_ms == max(s.last_tick_ms or 0 for s in topo.pivots):
            assert _campaign_links(topo.campaign) == _pivot_links(topo)
            _check_summaries(topo.campaign)
            checks += 1
    topo.finish()
    assert _campaign_links(topo.campaign) == _pivot_links(topo)
    _check_summaries(topo.campaign)
    linked = len(_pivot_links(topo))
    assert linked > 100 and checks > 5, (linked, checks)  # the scenario does link accounts
    assert len(refresh_links) >= 20
    # a refresh carries what changed, not every link in force
    assert max(refresh_links) < linked


def test_the_refresh_compares_what_the_link_would_carry(events: list[RequestEvent]) -> None:
    """The refresh's shortcut (the sent fields, without building the link) agrees with
    the link itself for every member of every pivot."""
    topo = LocalTopology(DetectionSettings(), account_partitions=4)
    part = account_partitioner(4)
    by_p: dict[int, list[RequestEvent]] = {}
    for e in events:
        by_p.setdefault(part(e.account_id), []).append(e)
    topo.process(sorted(by_p.items()))
    checked = 0
    for stage in topo.pivots:
        for key, p in stage.pivots.items():
            for a in p.accounts:
                assert stage._sent_now(a, key, p) == stage._sent(stage._link(a, key, p))
                checked += 1
    assert checked > 1_000
