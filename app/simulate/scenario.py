"""Scenario files: a benign population with hard negatives plus labelled campaigns.

Scenarios are TOML files (``app/simulate/scenarios/*.toml``), validated by these
models. Sizes are given at full scale; ``--scale`` multiplies account counts and
infrastructure pools (never below a small floor), not per-account rates.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCENARIO_DIR",
    "BenignSpec",
    "CampaignSpec",
    "HardNegativeSpec",
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
]
CampaignKind = Literal["hydra", "slow", "mixed", "rotating", "paraphrase", "single", "low_slow"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def scaled(n: int, scale: float, floor: int = 1) -> int:
    return max(floor, math.ceil(n * scale))


class HardNegativeSpec(_Model):
    """A benign group a naive detector flags."""

    kind: HardNegativeKind
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


class BenignSpec(_Model):
    accounts: int = Field(40_000, ge=0)
    #: Median requests per account per day; the spread is ServeGen's client-rate sigma.
    median_requests_per_day: float = Field(3.0, gt=0)
    #: Share of ordinary accounts running the one popular coding agent
    #: (shared system-prompt template, user agent and TLS fingerprint).
    coding_agent_share: float = Field(0.2, ge=0, le=1)
    vpn_share: float = Field(0.03, ge=0, le=1)
    hard_negatives: list[HardNegativeSpec] = []


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
