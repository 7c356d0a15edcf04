"""Why replacement accounts that reuse infrastructure are flagged late (closed loop).

Runs ``evaluate --closed-loop`` in-process (the same ``_Loop``) and, for every reusing
head not flagged within an hour of its first request, prints what the campaign stage
held for it during that hour: the pivot kinds it was linked on, which of those links
were remembered indicators, and whether the indicators its harvest-like requests
carried were in the campaign stage's memory at all (what a campaign-to-pivot feedback
of the memory could have used at best).

    python -m benchmarks.slow_heads --scenario adaptive --seed 115 --partitions 4
"""

from __future__ import annotations

import argparse
import collections
import inspect
from typing import Any

from app.core.campaigns.values import pivot_kind, pivots_of
from app.core.events import AlertEvent, RequestEvent
from app.core.features.request import request_signals
from app.core.settings import DetectionSettings
from app.core.stages.campaign import _NOT_REMEMBERED
from app.tools.evaluate.loop import _Loop, run_closed_loop
from app.tools.simulate.scenario import load_scenario

__all__ = ["main"]

_HOUR_MS = 3_600_000
#: the closed loop's defaults (``evaluate --closed-loop``)
_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(run_closed_loop).parameters.items()
    if name in ("enforce_delay_ms", "throttle_served_share", "batch_ms")
}


class _Traced(_Loop):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_alert: dict[str, AlertEvent] = {}
        #: head → [(minutes after its first request, linked kinds, remembered linked kinds)]
        self.states: dict[str, list[tuple[float, tuple[str, ...], tuple[str, ...]]]] = {}
        #: head → (minutes, kinds) when its requests first touched two remembered kinds
        self.reachable: dict[str, tuple[float, list[str]]] = {}

    def _take_alerts(self, alerts: list[AlertEvent]) -> None:
        for a in alerts:
            if a.action != "observe":
                self.first_alert.setdefault(a.entity_id, a)
        super()._take_alerts(alerts)

    def _flush(self, batch: list[list[RequestEvent]], boundary: int) -> None:
        camp = self.topo.campaign
        gate = self.topo.settings.member_min_harvest
        for part in batch:
            for e in part:
                h = self.head_of.get(e.account_id)
                if h is None or not h.reuses_infrastructure or e.account_id in self.reachable:
                    continue
                s = request_signals(e)
                if s.harvest < gate:
                    continue
                kinds: dict[str, set[str]] = collections.defaultdict(set)
                for k in pivots_of(e, s, e.subnet):
                    cid = camp.memory.campaign_of(k, at_ms=boundary)
                    if cid is not None and pivot_kind(k) not in _NOT_REMEMBERED:
                        kinds[cid].add(pivot_kind(k))
                best = max(kinds.values(), key=len, default=set())
                if len(best) >= 2 and h.first_ms is not None:
                    self.reachable[e.account_id] = ((e.ts_ms - h.first_ms) / 60_000, sorted(best))
        super()._flush(batch, boundary)
        for acct, h in self.head_of.items():
            if not h.reuses_infrastructure or h.first_ms is None:
                continue
            if boundary > h.first_ms + _HOUR_MS + self.batch_ms:
                continue
            links = camp.links.get(acct) or {}
            linked = tuple(sorted({pivot_kind(k) for k in links}))
            remembered = tuple(
                sorted(
                    {
                        pivot_kind(k)
                        for k in links
                        if camp.memory.campaign_of(k, at_ms=boundary) is not None
                    }
                )
            )
            seq = self.states.setdefault(acct, [])
            if not seq or seq[-1][1:] != (linked, remembered):
                seq.append((round((boundary - h.first_ms) / 60_000, 1), linked, remembered))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="adaptive")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--scale", type=float, default=None)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario).with_overrides(seed=args.seed, days=None)
    scale = args.scale if args.scale is not None else scenario.default_scale
    loop = _Traced(
        scenario,
        scale=scale,
        partitions=args.partitions,
        settings=DetectionSettings(),
        verdicts=[],
        **_DEFAULTS,
    )
    rep = loop.run()
    heads = [h for h in rep.heads if h.reuses_infrastructure and h.first_ms is not None]
    slow = 0
    why: collections.Counter[str] = collections.Counter()
    for h in heads:
        assert h.first_ms is not None
        delay = None if h.flagged_ms is None else (h.flagged_ms - h.first_ms) / 60_000
        if delay is not None and delay <= 60:
            continue
        slow += 1
        states = loop.states.get(h.account_id, [])
        best = max((len(r) for _, _, r in states), default=0)
        reach = loop.reachable.get(h.account_id)
        in_time = reach is not None and reach[0] <= 50
        why[
            f"linked on {min(best, 2)}{'+' if best >= 2 else ''} remembered kinds; "
            f"memory {'had' if in_time else 'lacked'} two kinds of its requests in time"
        ] += 1
        a = loop.first_alert.get(h.account_id)
        print(
            f"{h.campaign_id} {h.account_id} gen {h.generation}: "
            f"{'never flagged' if delay is None else f'flagged after {delay:.0f} min'}"
            f"{'' if a is None else ' (' + ', '.join(sorted({r.feature for r in a.reasons})) + ')'}"
            f"; first hour {states}; two remembered kinds reachable: {reach}"
        )
    print(f"\nreusing heads {len(heads)}, flagged after 1 h or never: {slow}")
    for k, v in why.most_common():
        print(f"  {v:4d}  {k}")


if __name__ == "__main__":
    main()
