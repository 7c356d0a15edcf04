"""Per-request derived signals (pure functions of one RequestEvent).

>>> from app.core.events import validate_event
>>> e = validate_event({"event_id": "1", "ts_ms": 1_767_225_600_000,
...     "account_id": "a", "client_ip": "198.51.100.4", "model": "m", "prompt_tokens": 2000,
...     "completion_tokens": 8192, "max_tokens": 8192, "thinking": True, "tool_count": 4,
...     "category": "coding", "country": "BR", "billing_country": "SG", "ip_kind": "proxy",
...     "account_created_ms": 1_767_225_600_000 - 86_400_000})
>>> s = request_signals(e)
>>> s.harvest, s.harvest_units, s.mismatch, s.risky_ip, s.young, s.at_max
(1.0, 20, True, True, True, True)
"""

from __future__ import annotations

from typing import NamedTuple

from app.core.events import RequestEvent

__all__ = [
    "CAPABILITY_CATEGORIES",
    "HARVEST_UNITS",
    "LONG_OUTPUT_TOKENS",
    "YOUNG_ACCOUNT_MS",
    "RequestSignals",
    "request_signals",
]

#: What distillation campaigns target (published cases): coding, agentic reasoning, tool use.
CAPABILITY_CATEGORIES = frozenset({"coding", "agentic", "tool_use", "reasoning"})
#: A completion this long is a long output whatever max_tokens says.
LONG_OUTPUT_TOKENS = 3_000
#: Accounts younger than this at request time count as young.
YOUNG_ACCOUNT_MS = 30 * 86_400_000
#: Harvest scores are counted in units of 1/HARVEST_UNITS, so window sums of them are
#: exact integers: weights capability 0.35, thinking 0.25, long output 0.3, tools 0.1.
HARVEST_UNITS = 20
_RISKY_IP = frozenset({"proxy", "datacenter", "vpn", "tor"})


class RequestSignals(NamedTuple):
    """Immutable; a NamedTuple because one is built per event (a frozen dataclass cost
    ~1.5 µs more per event)."""

    #: 0..1: how much the request looks like output harvesting (capability-targeted,
    #: reasoning requested, long or max_tokens-capped output, tool use).
    harvest: float
    capability: bool
    thinking: bool
    long_output: bool
    at_max: bool
    tools: bool
    #: Billing country differs from the IP's country (both known).
    mismatch: bool
    #: Proxy / datacenter / VPN / Tor address.
    risky_ip: bool
    #: Account created less than 30 days before the request (False when unknown).
    young: bool
    age_known: bool
    rate_limited: bool
    #: ``harvest`` in units of 1/HARVEST_UNITS (0..20): what windows add up.
    harvest_units: int


def request_signals(e: RequestEvent) -> RequestSignals:
    capability = e.category in CAPABILITY_CATEGORIES
    thinking = bool(e.thinking)
    at_max = e.max_tokens is not None and e.completion_tokens >= e.max_tokens
    long_output = at_max or e.completion_tokens >= LONG_OUTPUT_TOKENS
    tools = bool(e.tool_count)
    harvest_units = 7 * capability + 5 * thinking + 6 * long_output + 2 * tools
    age_known = e.account_created_ms is not None
    young = age_known and e.ts_ms - (e.account_created_ms or 0) < YOUNG_ACCOUNT_MS
    mismatch = (
        e.country is not None and e.billing_country is not None and e.country != e.billing_country
    )
    return RequestSignals(  # positional: a NamedTuple's keyword path is slower
        harvest_units / HARVEST_UNITS,
        capability,
        thinking,
        long_output,
        at_max,
        tools,
        mismatch,
        e.ip_kind in _RISKY_IP,
        young,
        age_known,
        e.status == 429,
        harvest_units,
    )
