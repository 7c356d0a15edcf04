"""Account plans → RequestEvent v1 dicts in event-time order, plus ground-truth labels."""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.tools.simulate.plan import AccountPlan, Endpoint, Traffic

__all__ = ["Columns", "Simulation", "columns_for", "event_dict", "iter_events", "write_labels"]


@dataclass(slots=True)
class Columns:
    """Per-request draws of one account (Python lists for fast emission)."""

    ts: list[int]
    endpoint: list[Endpoint]
    prompt: list[int]
    completion: list[int]
    max_tokens: list[int | None]
    category: list[str]
    thinking: list[bool]
    tools: list[int]
    stream: list[bool]
    status: list[int]
    template: list[str | None]
    simhash: list[str | None]
    turn: list[int]
    key: list[str | None]
    campaign: list[bool]


def _draw(
    rng: np.random.Generator,
    t: Traffic,
    n: int,
    endpoints: tuple[Endpoint, ...],
    mode: str,
    keys: tuple[str, ...],
) -> dict[str, list[Any]]:
    if n == 0:
        return {
            k: []
            for k in (
                "endpoint",
                "prompt",
                "completion",
                "max_tokens",
                "category",
                "thinking",
                "tools",
                "stream",
                "status",
                "template",
                "simhash",
                "turn",
                "key",
            )
        }
    if mode == "sticky" and len(endpoints) > 1:
        # Mostly the primary address, sometimes the others.
        idx = np.where(rng.random(n) < 0.8, 0, rng.integers(len(endpoints), size=n))
    else:
        idx = rng.integers(len(endpoints), size=n)
    max_tok_idx = rng.integers(len(t.max_tokens_choices), size=n)
    max_tokens = [t.max_tokens_choices[i] for i in max_tok_idx]
    completion = t.output_tokens.sample(rng, n)
    at_max = rng.random(n) < t.at_max_share
    comp = [
        (mt if (mt is not None and (hit or c > mt)) else int(c))
        for c, mt, hit in zip(completion.tolist(), max_tokens, at_max.tolist(), strict=True)
    ]
    cat_p = np.asarray(t.category_weights, dtype=float)
    cats = rng.choice(len(t.categories), size=n, p=cat_p / cat_p.sum())
    lo, hi = t.tool_count_range
    status = np.where(rng.random(n) < t.rate_limited_share, 429, 200)
    use_tpl = rng.random(n) < t.template_share
    tpl_idx = rng.integers(max(len(t.templates), 1), size=n)
    if t.template_per_request:
        tpl_rand = rng.integers(0, 2**62, size=n)
        template = [
            f"tpl-p{x:x}" if u else None
            for x, u in zip(tpl_rand.tolist(), use_tpl.tolist(), strict=True)
        ]
    elif t.templates:
        template = [
            t.templates[i] if u else None
            for i, u in zip(tpl_idx.tolist(), use_tpl.tolist(), strict=True)
        ]
    else:
        template = [None] * n
    if t.simhash_bases:
        base = np.array(t.simhash_bases, dtype=np.uint64)[tpl_idx % len(t.simhash_bases)]
        flo, fhi = t.simhash_flips
        flips = rng.integers(flo, fhi + 1, size=n)
        bits = rng.integers(0, 64, size=(n, max(fhi, 1)))
        mask = np.zeros(n, dtype=np.uint64)
        for j in range(max(fhi, 1)):
            on = flips > j
            mask[on] ^= np.left_shift(np.uint64(1), bits[on, j].astype(np.uint64))
        sims = (base ^ mask).tolist()
    else:
        sims = rng.integers(0, 2**63, size=n).tolist()
    return {
        "endpoint": [endpoints[i] for i in idx.tolist()],
        "prompt": t.input_tokens.sample(rng, n).tolist(),
        "completion": comp,
        "max_tokens": max_tokens,
        "category": [t.categories[i] for i in cats.tolist()],
        "thinking": (rng.random(n) < t.thinking_share).tolist(),
        "tools": rng.integers(lo, hi + 1, size=n).tolist() if hi > 0 else [0] * n,
        "stream": (rng.random(n) < t.stream_share).tolist(),
        "status": status.tolist(),
        "template": template,
        "simhash": [f"{int(s):016x}" for s in sims],
        "turn": rng.integers(0, t.turn_index_max + 1, size=n).tolist(),
        "key": [keys[i] for i in rng.integers(len(keys), size=n).tolist()] if keys else [None] * n,
    }


def columns_for(rng: np.random.Generator, plan: AccountPlan) -> Columns:
    n = plan.requests
    alt = plan.alt_mask if plan.alt_traffic is not None else None
    if alt is None:
        d = _draw(rng, plan.traffic, n, plan.endpoints, plan.endpoint_mode, plan.api_keys)
        campaign = [plan.campaign_id is not None] * n
    else:
        base_idx = np.flatnonzero(~alt)
        alt_idx = np.flatnonzero(alt)
        a = _draw(
            rng, plan.traffic, base_idx.size, plan.endpoints, plan.endpoint_mode, plan.api_keys
        )
        assert plan.alt_traffic is not None
        b = _draw(rng, plan.alt_traffic, alt_idx.size, plan.alt_endpoints, "random", plan.api_keys)
        d = {}
        for k in a:
            merged: list[Any] = [None] * n
            for i, v in zip(base_idx.tolist(), a[k], strict=True):
                merged[i] = v
            for i, v in zip(alt_idx.tolist(), b[k], strict=True):
                merged[i] = v
            d[k] = merged
        campaign = alt.tolist()
    return Columns(ts=plan.ts_ms.tolist(), campaign=campaign, **d)


@dataclass(slots=True)
class Simulation:
    """All account plans of a scenario run, ready to emit."""

    plans: list[AccountPlan]
    seed: int

    @property
    def total_requests(self) -> int:
        return sum(p.requests for p in self.plans)


def iter_events(sim: Simulation) -> Iterator[tuple[dict[str, Any], AccountPlan, bool]]:
    """(event dict, its account plan, is-campaign-traffic) in (ts, account) order."""
    rng = np.random.default_rng(sim.seed + 1)
    cols = [columns_for(rng, p) for p in sim.plans]
    heads = [(c.ts[0], i, 0) for i, c in enumerate(cols) if c.ts]
    heapq.heapify(heads)
    n = 0
    seed_tag = f"{sim.seed:x}"
    while heads:
        _, i, j = heapq.heappop(heads)
        c = cols[i]
        p = sim.plans[i]
        if j + 1 < len(c.ts):
            heapq.heappush(heads, (c.ts[j + 1], i, j + 1))
        n += 1
        yield event_dict(c, p, j, f"sim-{seed_tag}-{n:09d}"), p, c.campaign[j]


def event_dict(c: Columns, p: AccountPlan, j: int, event_id: str) -> dict[str, Any]:
    """Request ``j`` of plan ``p`` (drawn in ``c``) as a RequestEvent v1 dict."""
    ep = c.endpoint[j]
    event: dict[str, Any] = {
        "event_id": event_id,
        "ts_ms": c.ts[j],
        "account_id": p.account_id,
        "client_ip": ep.ip,
        "model": (
            p.alt_traffic.model if c.campaign[j] and p.alt_traffic is not None else p.traffic.model
        ),
        "prompt_tokens": c.prompt[j],
        "completion_tokens": c.completion[j],
        "org_id": p.org_id,
        "api_key_id": c.key[j],
        "account_created_ms": p.created_ms,
        "asn": ep.asn,
        "ip_kind": ep.ip_kind,
        "country": ep.country,
        "billing_country": p.billing_country,
        "user_agent": p.user_agent,
        "tls_ja4": p.tls_ja4,
        "payment_fingerprint": p.payment_fingerprint,
        "endpoint": "/v1/messages",
        "status": c.status[j],
        "max_tokens": c.max_tokens[j],
        "stream": c.stream[j],
        "tool_count": c.tools[j],
        "thinking": c.thinking[j],
        "prompt_template_hash": c.template[j],
        "prompt_simhash": c.simhash[j],
        "category": c.category[j],
        "turn_index": c.turn[j],
    }
    return {k: v for k, v in event.items() if v is not None}


def write_labels(plans: list[AccountPlan], fh: IO[str], first_campaign_ms: dict[str, int]) -> None:
    """``account_id,campaign_id,group,campaign_first_ms`` (empty campaign for benign)."""
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(["account_id", "campaign_id", "group", "campaign_first_ms"])
    for p in plans:
        first = first_campaign_ms.get(p.account_id)
        w.writerow([p.account_id, p.campaign_id or "", p.group, "" if first is None else first])


def labels_path_for(events_path: Path) -> Path:
    name = events_path.name
    for suffix in (".jsonl.gz", ".jsonl", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return events_path.with_name(f"{name}.labels.csv")
