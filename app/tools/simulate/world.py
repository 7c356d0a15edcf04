"""Shared context of one simulation: random generator, calibrated parameters, address space."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.tools.simulate.arrivals import renewal_arrivals
from app.tools.simulate.calibrate import load_params
from app.tools.simulate.plan import Endpoint, TokenProfile
from app.tools.simulate.scenario import Scenario

__all__ = ["COUNTRIES", "World"]

#: (country, UTC offset in hours, weight) for benign users.
COUNTRIES: tuple[tuple[str, float, float], ...] = (
    ("US", -6.0, 0.30),
    ("IN", 5.5, 0.10),
    ("GB", 0.0, 0.07),
    ("DE", 1.0, 0.07),
    ("FR", 1.0, 0.05),
    ("BR", -3.0, 0.06),
    ("JP", 9.0, 0.06),
    ("KR", 9.0, 0.05),
    ("CA", -5.0, 0.05),
    ("AU", 10.0, 0.04),
    ("SG", 8.0, 0.04),
    ("NL", 1.0, 0.04),
    ("ES", 1.0, 0.03),
    ("PL", 1.0, 0.04),
)
TZ = {c: tz for c, tz, _ in COUNTRIES}

#: Cloud / hosting ASNs (benign apps, CI runners, campaign servers all live here).
CLOUD_ASNS = (16509, 15169, 8075, 14061, 24940, 16276, 63949, 20473)


@dataclass(slots=True)
class World:
    scenario: Scenario
    scale: float
    rng: np.random.Generator
    params: dict[str, Any] = field(default_factory=load_params)
    _used_subnets: set[tuple[int, int, int]] = field(default_factory=set)
    #: country → its share of the home address space (``benign.home_blocks``)
    _home_blocks: dict[str, list[tuple[tuple[int, int, int], int]]] = field(default_factory=dict)
    _counter: int = 0

    @classmethod
    def create(cls, scenario: Scenario, scale: float) -> World:
        return cls(scenario=scenario, scale=scale, rng=np.random.default_rng(scenario.seed))

    # ---- identifiers ---------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:07d}"

    # ---- calibrated distributions ----------------------------------------------------
    @property
    def servegen(self) -> dict[str, Any]:
        return self.params["servegen"]  # type: ignore[no-any-return]

    def hourly(self, interactive: bool) -> list[float]:
        key = "interactive_hour_of_day_profile" if interactive else "hour_of_day_profile"
        return self.servegen[key]  # type: ignore[no-any-return]

    @property
    def weekday(self) -> list[float]:
        return self.servegen["weekday_profile"]  # type: ignore[no-any-return]

    def client_cv(self) -> float:
        """Inter-arrival CV drawn from ServeGen's per-client median CVs."""
        qs = self.servegen["client_cv_quantiles"]
        levels = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]
        values = [qs[0] * 0.8, *qs, qs[-1]]
        return float(np.clip(np.interp(self.rng.random(), levels, values), 0.5, 12.0))

    def daily_rate(self, median: float, *, cap: float = 20_000.0) -> float:
        sigma = self.servegen["client_rate_lognormal"]["sigma"]
        return float(min(median * np.exp(sigma * self.rng.standard_normal()), cap))

    def human_arrivals(
        self,
        *,
        rate_per_day: float,
        tz_offset_h: float,
        cv: float | None = None,
        start_ms: int | None = None,
        interactive: bool = True,
    ) -> np.ndarray:
        """One account's request times until the scenario ends, with calibrated burstiness
        (ServeGen CV unless ``cv`` is given) and daily/weekly cycles in its time zone."""
        return renewal_arrivals(
            self.rng,
            start_ms=self.scenario.start_ms if start_ms is None else start_ms,
            end_ms=self.scenario.end_ms,
            rate_per_day=rate_per_day,
            cv=self.client_cv() if cv is None else cv,
            hourly=self.hourly(interactive),
            weekday=self.weekday,
            tz_offset_h=tz_offset_h,
        )

    def token_profiles(self) -> tuple[TokenProfile, TokenProfile]:
        """Input and output profiles of one random ServeGen client."""
        tok = self.params["servegen_tokens"]
        i = int(self.rng.integers(len(tok["input_profiles"])))
        j = min(i, len(tok["output_profiles"]) - 1)
        return (
            TokenProfile(tuple(tok["input_profiles"][i])),
            TokenProfile(tuple(tok["output_profiles"][j])),
        )

    def azure_profile(self, kind: str, *, factor: float = 1.0) -> tuple[TokenProfile, TokenProfile]:
        az = self.params["azure"][kind]
        return (
            TokenProfile(tuple(q * factor for q in az["input_quantiles"])),
            TokenProfile(tuple(az["output_quantiles"])),
        )

    def country(self) -> tuple[str, float]:
        weights = np.array([w for _, _, w in COUNTRIES])
        i = int(self.rng.choice(len(COUNTRIES), p=weights / weights.sum()))
        return COUNTRIES[i][0], COUNTRIES[i][1]

    # ---- address space -----------------------------------------------------------------
    def subnet(self, *, cloud: bool = False) -> tuple[int, int, int]:
        """A fresh /24 (residential ranges or cloud ranges), never handed out twice."""
        firsts = (3, 13, 18, 34, 35, 52, 54, 104) if cloud else tuple(range(24, 124))
        while True:
            s = (
                int(self.rng.choice(firsts)),
                int(self.rng.integers(256)),
                int(self.rng.integers(256)),
            )
            if s not in self._used_subnets:
                self._used_subnets.add(s)
                return s

    def home_block(self, country: str) -> tuple[tuple[int, int, int], int]:
        """A home's /24 and ASN: a fresh one, or — with ``benign.home_blocks`` — one of the
        country's share of the ISPs' address space, which strangers then share."""
        total = self.scenario.benign.home_blocks
        if total is None:
            return self.subnet(), self.residential_asn()
        pool = self._home_blocks.get(country)
        if pool is None:
            weight = next(w for c, _, w in COUNTRIES if c == country)
            share = weight / sum(w for _, _, w in COUNTRIES)
            n = max(8, math.ceil(total * self.scale * share))
            asns = [self.residential_asn() for _ in range(max(2, n // 2_000))]
            pool = self._home_blocks[country] = [
                (self.subnet(), asns[i % len(asns)]) for i in range(n)
            ]
        return pool[int(self.rng.integers(len(pool)))]

    def endpoint(
        self,
        subnet: tuple[int, int, int],
        *,
        asn: int,
        ip_kind: str,
        country: str,
        host: int | None = None,
    ) -> Endpoint:
        h = int(self.rng.integers(1, 255)) if host is None else host
        return Endpoint(f"{subnet[0]}.{subnet[1]}.{subnet[2]}.{h}", asn, ip_kind, country)

    def residential_asn(self) -> int:
        return int(self.rng.integers(1_000, 60_000))
