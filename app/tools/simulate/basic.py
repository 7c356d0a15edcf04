"""A small deterministic traffic mix: benign accounts plus one obvious abusive group.

Used by ``hydrawatch demo``, the shipped example file and the integration tests.
(The calibrated simulator with hard negatives and campaign variants is
``hydrawatch simulate``.)

>>> events = generate_basic(BasicTraffic(benign_accounts=5, abusive_accounts=1,
...                                      duration_ms=7_200_000, seed=1))
>>> events == sorted(events, key=lambda e: e["ts_ms"])
True
>>> any(e["account_id"].startswith("acct-x") for e in events)
True
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["ABUSIVE_PREFIX", "EXAMPLE_TRAFFIC", "BasicTraffic", "example_lines", "generate_basic"]

ABUSIVE_PREFIX = "acct-x"
_CATEGORIES = ("coding", "chat", "writing", "reasoning", "agentic", "tool_use", "other")
_CATEGORY_WEIGHTS = (0.30, 0.30, 0.15, 0.08, 0.07, 0.05, 0.05)
_MODELS = ("frontier-1", "frontier-1-mini")


@dataclass(frozen=True, slots=True, kw_only=True)
class BasicTraffic:
    """Shape of the mix. Times are event time (epoch ms)."""

    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    duration_ms: int = 3 * 3_600_000
    benign_accounts: int = 300
    #: Mean benign requests per minute per account (log-normally spread across accounts).
    benign_rate_per_min: float = 0.25
    abusive_accounts: int = 6
    abuse_start_offset_ms: int = 3_600_000
    #: Requests per minute of each abusive account (metronome-regular).
    abusive_rate_per_min: float = 12.0
    seed: int = 7


def _simhash(rng: random.Random, base: int | None = None, flips: int = 0) -> str:
    value = rng.getrandbits(64) if base is None else base
    for _ in range(flips):
        value ^= 1 << rng.randrange(64)
    return f"{value:016x}"


def _ip_in(rng: random.Random, subnet: tuple[int, int, int]) -> str:
    return f"{subnet[0]}.{subnet[1]}.{subnet[2]}.{rng.randrange(1, 255)}"


def _event_id(seed: int, n: int) -> str:
    return hashlib.blake2b(f"{seed}:{n}".encode(), digest_size=10).hexdigest()


def generate_basic(cfg: BasicTraffic = BasicTraffic()) -> list[dict[str, Any]]:
    """All events of the mix as RequestEvent v1 dicts, sorted by ``ts_ms``."""
    rng = random.Random(cfg.seed)
    end_ms = cfg.start_ms + cfg.duration_ms
    out: list[dict[str, Any]] = []
    for i in range(cfg.benign_accounts):
        acct = f"acct-{i:05d}"
        rate = cfg.benign_rate_per_min * rng.lognormvariate(-0.5, 1.0) / 60_000.0
        shape = rng.choice((0.4, 0.7, 1.0))  # gamma gaps: CV 1.6 / 1.2 / 1.0
        subnet = (rng.randrange(11, 220), rng.randrange(256), rng.randrange(256))
        ips = [_ip_in(rng, subnet) for _ in range(rng.choice((1, 1, 1, 2)))]
        created = cfg.start_ms - rng.randrange(30, 900) * 86_400_000
        template = f"tpl-{rng.randrange(10_000):04d}"
        country = rng.choice(("US", "DE", "IN", "BR", "JP", "GB", "FR"))
        t = cfg.start_ms + rng.expovariate(rate) if rate > 0 else end_ms
        while t < end_ms:
            cat = rng.choices(_CATEGORIES, _CATEGORY_WEIGHTS)[0]
            max_tokens = rng.choice((None, 1024, 4096))
            completion = int(rng.lognormvariate(5.0, 1.0))
            if max_tokens is not None:
                completion = min(completion, max_tokens)
            out.append(
                {
                    "event_id": _event_id(cfg.seed, len(out)),
                    "ts_ms": int(t),
                    "account_id": acct,
                    "client_ip": rng.choice(ips),
                    "model": rng.choice(_MODELS),
                    "prompt_tokens": int(rng.lognormvariate(6.9, 0.9)),
                    "completion_tokens": completion,
                    "account_created_ms": created,
                    "ip_kind": "residential",
                    "country": country,
                    "billing_country": country,
                    "user_agent": "sdk-python/1.40",
                    "max_tokens": max_tokens,
                    "stream": rng.random() < 0.5,
                    "tool_count": 0,
                    "thinking": rng.random() < 0.1,
                    "prompt_template_hash": template if rng.random() < 0.3 else None,
                    "prompt_simhash": _simhash(rng),
                    "category": cat,
                }
            )
            t += rng.gammavariate(shape, 1.0 / (rate * shape))
    # The abusive group: young accounts, rotating datacenter IPs, metronome timing,
    # one template, long reasoning-heavy coding outputs up to max_tokens.
    dc_subnets = [(45, 12, n) for n in range(8)]
    base_hash = rng.getrandbits(64)
    abuse_start = cfg.start_ms + cfg.abuse_start_offset_ms
    gap_ms = 60_000.0 / cfg.abusive_rate_per_min
    for j in range(cfg.abusive_accounts):
        acct = f"{ABUSIVE_PREFIX}{j:04d}"
        t = abuse_start + rng.uniform(0, gap_ms)
        while t < end_ms:
            out.append(
                {
                    "event_id": _event_id(cfg.seed + 1_000_003, len(out)),
                    "ts_ms": int(t),
                    "account_id": acct,
                    "client_ip": _ip_in(rng, rng.choice(dc_subnets)),
                    "model": "frontier-1",
                    "prompt_tokens": int(rng.uniform(1_800, 2_200)),
                    "completion_tokens": 4096
                    if rng.random() < 0.7
                    else int(rng.uniform(3_000, 4_096)),
                    "account_created_ms": abuse_start - 86_400_000,
                    "asn": 64_512 + j % 3,
                    "ip_kind": "datacenter",
                    "country": "US",
                    "billing_country": "SG",
                    "user_agent": "sdk-python/1.40",
                    "payment_fingerprint": "pf-shared-01",
                    "max_tokens": 4096,
                    "stream": False,
                    "tool_count": 3,
                    "thinking": True,
                    "prompt_template_hash": "tpl-harvest",
                    "prompt_simhash": _simhash(rng, base_hash, flips=2),
                    "category": rng.choice(("coding", "agentic", "tool_use")),
                }
            )
            t += gap_ms * rng.uniform(0.97, 1.03)
    out.sort(key=lambda e: (e["ts_ms"], e["event_id"]))
    return out


#: The mix behind ``schemas/examples/request_events.jsonl`` (``make examples``).
EXAMPLE_TRAFFIC = BasicTraffic(
    duration_ms=3 * 3_600_000,
    # enough benign windows for each of 4 input partitions' account models to warm up
    benign_accounts=400,
    benign_rate_per_min=0.2,
    abusive_accounts=3,
    abuse_start_offset_ms=2 * 3_600_000,
    abusive_rate_per_min=8.0,
    seed=2026,
)


def example_lines(cfg: BasicTraffic = EXAMPLE_TRAFFIC) -> bytes:
    """The example file's content: one compact JSON event per line, nulls omitted."""
    import orjson

    return b"".join(
        orjson.dumps({k: v for k, v in e.items() if v is not None}) + b"\n"
        for e in generate_basic(cfg)
    )
