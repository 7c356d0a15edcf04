"""Scenario files: a benign population with hard negatives plus labelled campaigns.

Scenarios are TOML files (``app/tools/simulate/scenarios/*.toml``), validated by these
models. Sizes are given at full scale; ``--scale`` multiplies account counts and
infrastructure pools (never below a small floor), not per-account rates.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.tools.simulate.tools import ToolName

__all__ = [
    "SCENARIO_DIR",
    "BenignSpec",
    "CampaignSpec",
    "HardNegativeSpec",
    "RegrowSpec",
    "Scenario",
    "load_scenario",
    "scenario_names",
]

SCENARIO_DIR = Path(__file__).with_name("scenarios")

HardNegativeKind = Literal[
    "corp_nat",
    "university",
    "cloud_app",
    "ci_batch",
    "agent_framework",
    "release_burst",
    "eval_run",
    "enterprise_eval",
    "university_class",
    "popular_agent",
]
CampaignKind = Literal["hydra", "slow", "mixed", "rotating", "paraphrase", "single", "low_slow"]
ProxyKind = Literal["residential", "mobile", "proxy"]
Timing = Literal["dispatch", "renewal", "poisson"]
#: A label group: what the labels CSV's ``group`` column says (letters, digits, ``_-``).
GroupName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Range = tuple[float, float]


def _check_range(name: str, r: Range | None, *, lo: float = 0.0) -> None:
    if r is not None and not lo <= r[0] <= r[1]:
        raise ValueError(f"{name} must be [low, high] with {lo:g} <= low <= high, got {list(r)}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def scaled(n: int, scale: float, floor: int = 1) -> int:
    return max(floor, math.ceil(n * scale))


class HardNegativeSpec(_Model):
    """A benign group a naive detector flags."""

    kind: HardNegativeKind
    #: The label group (default: the kind), so two groups of one kind stay apart.
    group: GroupName | None = None
    #: Units (organisations, campuses, apps, pipelines, ...).
    units: int = Field(1, ge=1)
    #: Accounts per unit at full scale.
    accounts: int = Field(1, ge=1)
    #: Hours after the scenario start (release bursts, evaluation runs).
    at_h: float = 30.0
    #: ``enterprise_eval``: hours between the harness's cron batches.
    cron_every_h: float = Field(6.0, gt=0)
    #: ``enterprise_eval``: mean requests per account per batch (Poisson; not scaled).
    batch_requests: float = Field(12.0, gt=0)
    #: ``enterprise_eval``: minutes over which one batch's requests are fired.
    batch_minutes: float = Field(10.0, gt=0)
    #: ``enterprise_eval``: eval-suite templates per organisation (None: 3 to 6).
    templates: int | None = Field(None, ge=1)
    #: ``university_class``: hours within which a class's accounts are all created
    #: (sign-up during the first lab session, ``at_h`` hours after the start plus
    #: 7 h per further class).
    signup_window_h: float = Field(1.0, gt=0)
    #: ``university_class``, ``popular_agent``: median requests per account per day
    #: (spread with ServeGen's client-rate sigma; None: 6 for a class, 4 for the agent).
    requests_per_day: float | None = Field(None, gt=0)
    #: ``university_class``, ``popular_agent``: per-account share of requests on the
    #: shared template (assignment / system prompt), drawn uniformly in [low, high]
    #: (None: [0.5, 0.9] for a class, [0.85, 0.99] for the agent).
    template_share: Range | None = None
    #: ``popular_agent``: the tool whose fingerprint and system prompt its users share.
    tool: ToolName = "codeagent"
    #: ``popular_agent``: share of its users who sign up during the scenario.
    signup_share: float = Field(0.05, ge=0, le=1)
    #: ``popular_agent``: what its users ask for — ``coding`` (a mix, mostly short
    #: outputs) or ``research`` (long, reasoning-heavy answers: harvest-like by nature).
    profile: Literal["coding", "research"] = "coding"
    #: ``popular_agent``: share of its users who work from an office /24 they share with
    #: colleagues on the same tool (each with their own account and card, no org).
    office_share: float = Field(0.0, ge=0, le=1)
    #: ``popular_agent``: users per office, drawn uniformly in [low, high].
    office_size: Range = (3.0, 30.0)

    @model_validator(mode="after")
    def _ranges(self) -> HardNegativeSpec:
        _check_range("template_share", self.template_share)
        _check_range("office_size", self.office_size, lo=1.0)
        if self.template_share is not None and self.template_share[1] > 1:
            raise ValueError("template_share must lie in [0, 1]")
        return self


class BenignSpec(_Model):
    accounts: int = Field(40_000, ge=0)
    #: Median requests per account per day; the spread is ServeGen's client-rate sigma.
    median_requests_per_day: float = Field(3.0, gt=0)
    #: Share of ordinary accounts running the one popular coding agent
    #: (shared system-prompt template, user agent and TLS fingerprint).
    coding_agent_share: float = Field(0.2, ge=0, le=1)
    vpn_share: float = Field(0.03, ge=0, le=1)
    #: The residential address space home users share, in /24s at full scale (split over
    #: countries by their user weight, scaled with the population): strangers of one ISP
    #: share a /24 about as often as ``users / home_blocks``. None: every home gets a
    #: /24 of its own (no stranger ever shares one).
    home_blocks: int | None = Field(None, ge=1)
    hard_negatives: list[HardNegativeSpec] = []


class RegrowSpec(_Model):
    """How a campaign grows new heads when its accounts are blocked or throttled (the
    closed loop, ``hydrawatch evaluate --closed-loop``)."""

    #: Hours from an account's enforcement to its replacement's first request.
    delay_h: Range = (1.0, 6.0)
    #: Share of replacements on the same infrastructure (payment method, proxies,
    #: client fingerprint, prompt templates); the rest come on fresh infrastructure.
    reuse_share: float = Field(0.5, ge=0, le=1)
    #: Replacements per original account, at most (the operator's budget of accounts).
    max_heads: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> RegrowSpec:
        _check_range("delay_h", self.delay_h)
        return self


class CampaignSpec(_Model):
    kind: CampaignKind
    id: str
    accounts: int | None = None
    requests_per_account_day: float | None = None
    start_h: float = 24.0
    #: Hours over which accounts join (first requests spread).
    ramp_h: float | None = None
    #: Infrastructure at full scale.
    proxy_subnets: int | None = None
    datacenter_subnets: int | None = None
    asns: int | None = None
    payment_fingerprints: int | None = None
    tls_fingerprints: int | None = None
    templates: int | None = None
    #: Disjoint infrastructures (own proxies, ASNs, payments, TLS, templates) that
    #: share only request shape and prompt families (``low_slow``: 4).
    infrastructures: int | None = Field(None, ge=1)
    #: Draw the campaign's custom TLS fingerprints fresh instead of the shared
    #: built-in ones (so campaigns in one scenario are not linked by them).
    distinct_tls: bool = False

    # ---- attacker mechanisms (None: the kind's default; see docs/simulator.md) ----
    #: The label group (default: the kind), e.g. one name per campaign variant.
    group: GroupName | None = None
    #: Bought aged accounts: each created uniformly [low, high] days before the start.
    account_age_days: Range | None = None
    #: IP kinds of the proxy addresses (e.g. ``["residential"]``).
    ip_kinds: list[ProxyKind] | None = Field(None, min_length=1)
    #: Share of infrastructures whose proxies sit in their accounts' billing countries.
    matched_country_share: float | None = Field(None, ge=0, le=1)
    #: Countries a matched infrastructure's proxies span; each account bills from one
    #: of them and uses only proxies there (geo-targeted residential proxies).
    proxy_countries: int | None = Field(None, ge=1)
    #: Billing countries of the unmatched accounts (None: SG, HK, AE, US).
    billing_countries: list[str] | None = Field(None, min_length=1)
    #: ``dispatch``: central round-robin on one-minute ticks; ``renewal``: independent
    #: gamma renewal per account (CV drawn from ``timing_cv``); ``poisson``: CV 1.
    timing: Timing | None = None
    #: Inter-arrival CV range of ``renewal`` timing (None: [0.8, 1.5]).
    timing_cv: Range | None = None
    #: Per-account rate spread: rate * lognormal(sigma), mean kept (None: 0, all equal).
    rate_sigma: float | None = Field(None, ge=0, le=3)
    #: Present this popular tool's user agent, TLS fingerprint and system prompt.
    camouflage: ToolName | None = None
    #: A new template hash per request and drifting SimHashes.
    paraphrase: bool | None = None
    #: Closed loop: how it replaces enforced accounts (None: RegrowSpec's defaults).
    regrow: RegrowSpec | None = None

    @model_validator(mode="after")
    def _ranges(self) -> CampaignSpec:
        _check_range("account_age_days", self.account_age_days)
        _check_range("timing_cv", self.timing_cv, lo=0.05)
        return self


class Scenario(_Model):
    name: str
    description: str = ""
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    days: float = Field(3.0, gt=0)
    seed: int = 1
    #: The scale used by ``evaluate`` when none is given (fits the 1-minute budget).
    default_scale: float = Field(0.05, gt=0, le=1)
    benign: BenignSpec = BenignSpec()
    campaigns: list[CampaignSpec] = []

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.days * 86_400_000)

    def campaigns_outside_span(self) -> list[CampaignSpec]:
        """Campaigns that start at or after the end of the simulated days: no events.

        >>> sc = load_scenario("hydra")
        >>> [c.id for c in sc.with_overrides(days=1).campaigns_outside_span()]
        ['hydra-1']
        >>> sc.campaigns_outside_span()
        []
        """
        return [c for c in self.campaigns if c.start_h >= self.days * 24]

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        days: float | None = None,
        start: datetime | None = None,
    ) -> Scenario:
        update: dict[str, object] = {}
        if seed is not None:
            update["seed"] = seed
        if days is not None:
            update["days"] = days
        if start is not None:
            update["start"] = start
        return self.model_copy(update=update)


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``hydra``) or a TOML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    if not path.exists():
        raise FileNotFoundError(
            f"no scenario {name_or_path!r}; shipped: {', '.join(scenario_names())}"
        )
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return Scenario.model_validate(data)
