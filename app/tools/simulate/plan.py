"""Account plans: who sends what, when — the intermediate form every generator builds.

A generator (benign population, hard-negative group, campaign) returns
:class:`AccountPlan` objects: per-account constants, an infrastructure pool and the
request timestamps. :mod:`app.tools.simulate.emit` turns plans into sorted RequestEvents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["AccountPlan", "Endpoint", "TokenProfile", "Traffic"]

#: Quantile levels used by every token profile (from the ServeGen token table).
LEVELS = np.array([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0])


@dataclass(frozen=True, slots=True)
class TokenProfile:
    """Inverse-CDF of a token count from its p05…p99 quantiles."""

    quantiles: tuple[float, ...]  # p05, p25, p50, p75, p95, p99

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        q = self.quantiles
        values = np.array([max(q[0] * 0.5, 1.0), *q, q[-1] * 1.3])
        out: np.ndarray = np.maximum(np.interp(rng.random(n), LEVELS, values), 1.0)
        return out.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One client address with its network attributes."""

    ip: str
    asn: int
    ip_kind: str
    country: str


@dataclass(slots=True, kw_only=True)
class Traffic:
    """How one account's requests look (drawn per request from these)."""

    model: str = "frontier-1"
    categories: tuple[str, ...] = ("chat",)
    category_weights: tuple[float, ...] = (1.0,)
    input_tokens: TokenProfile
    output_tokens: TokenProfile
    max_tokens_choices: tuple[int | None, ...] = (None,)
    #: Share of requests whose completion runs to max_tokens (harvesting long outputs).
    at_max_share: float = 0.0
    thinking_share: float = 0.0
    tool_count_range: tuple[int, int] = (0, 0)
    stream_share: float = 0.5
    rate_limited_share: float = 0.0
    #: Prompt template hashes and the share of requests that use one.
    templates: tuple[str, ...] = ()
    template_share: float = 0.0
    #: Unique template hash per request (paraphrased prompts).
    template_per_request: bool = False
    #: SimHash: bases per template (near-duplicates flip a few bits) or random.
    simhash_bases: tuple[int, ...] = ()
    simhash_flips: tuple[int, int] = (0, 0)
    endpoint: str = "/v1/messages"
    language: str | None = None
    turn_index_max: int = 0


@dataclass(slots=True, kw_only=True)
class AccountPlan:
    account_id: str
    group: str
    campaign_id: str | None = None
    created_ms: int
    org_id: str | None = None
    billing_country: str | None = None
    user_agent: str | None = None
    tls_ja4: str | None = None
    payment_fingerprint: str | None = None
    api_keys: tuple[str, ...] = ()
    endpoints: tuple[Endpoint, ...]
    #: "sticky": mostly the first endpoint; "random": uniform over the pool.
    endpoint_mode: str = "sticky"
    traffic: Traffic
    ts_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Optional second traffic shape for a subset of requests (campaign traffic in a
    #: hijacked benign account): mask over ts_ms, with its own endpoints.
    alt_traffic: Traffic | None = None
    alt_endpoints: tuple[Endpoint, ...] = ()
    alt_mask: np.ndarray | None = None

    #: Per-request campaign attribution when only some requests are campaign traffic.
    @property
    def requests(self) -> int:
        return int(self.ts_ms.size)
