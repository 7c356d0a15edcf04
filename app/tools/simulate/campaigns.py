"""Distillation campaigns modelled on the published cases, and their variants.

``hydra``: thousands of young accounts created in bursts, spread over residential
proxies and datacenter subnets in many ASNs, a few shared payment and TLS
fingerprints, a central dispatcher load-balancing templated prompts (coding,
agentic, tool use, reasoning requested, long outputs) round-robin across accounts.
Variants change one mechanism each: ``slow``, ``mixed``, ``rotating``,
``paraphrase``, ``single``. ``low_slow`` combines several: bought aged accounts at a
few requests a day with independent timing, split over disjoint infrastructures
(own proxies, ASNs, payment and TLS fingerprints, templates) that share only the
request shape and the prompt families.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.tools.simulate.arrivals import DAY_MS, HOUR_MS, periodic_arrivals, renewal_arrivals
from app.tools.simulate.plan import AccountPlan, Endpoint, TokenProfile, Traffic
from app.tools.simulate.population import benign_accounts
from app.tools.simulate.scenario import CampaignSpec, scaled
from app.tools.simulate.tools import POPULAR_TOOLS, SDK_PYTHON
from app.tools.simulate.world import CLOUD_ASNS, World

_Sizes = tuple[int, float, int, int, int]

__all__ = ["DEFAULTS", "CampaignDefaults", "campaign_accounts", "resolve"]

_PROXY_COUNTRIES = ("US", "BR", "IN", "VN", "ID", "DE", "GB", "PL", "TR", "MX", "PH", "EG")
_CUSTOM_JA4 = ("t13d1312h2_e8a523a41297_ef7df7f74e48", "t13d1715h2_5b57614c22b0_3d5424432f57")
#: Client user agents an infrastructure's scripts may present.
_SCRIPT_UAS = (
    SDK_PYTHON["user_agent"],
    "llm-sdk-node/0.30.1",
    "python-httpx/0.27.2",
    "langchain-python/0.3",
    "aiohttp/3.9.5",
)
_BILLING = ("SG", "HK", "AE", "US")


@dataclass(frozen=True, slots=True)
class CampaignDefaults:
    accounts: int
    requests_per_account_day: float
    ramp_h: float
    proxy_subnets: int
    datacenter_subnets: int
    asns: int
    payment_fingerprints: int
    tls_fingerprints: int
    templates: int
    #: "dispatch": central round-robin dispatcher; "renewal": independent random timing.
    timing: str = "dispatch"
    dispatch_jitter_ms: float = 2_000.0
    #: "sticky": 1 to 3 addresses per account; "rotating": a new address per request.
    ip_mode: str = "sticky"
    paraphrase: bool = False
    creation_bursts: int = 6
    #: Disjoint infrastructures the accounts are split over; each has its own proxy
    #: subnets, ASNs, payment and TLS fingerprints, user agent and templates (the pool
    #: sizes above are totals), and they share request shape and prompt families.
    infrastructures: int = 1
    #: Bought aged accounts: created uniformly this many days before the campaign
    #: start; None: created in ``creation_bursts`` around the start.
    account_age_days: tuple[float, float] | None = None
    #: Share of the infrastructures whose residential proxies are in the accounts'
    #: billing country (the others bill from elsewhere).
    matched_country_share: float = 0.0
    #: Countries a matched infrastructure spans (each account: one of them, billing
    #: there and using only its proxies there).
    proxy_countries: int = 1
    #: IP kinds of proxy addresses; None: residential/proxy/mobile (matched
    #: infrastructures: residential/mobile).
    ip_kinds: tuple[str, ...] | None = None
    #: Billing countries of accounts whose proxies are not matched to them.
    billing_countries: tuple[str, ...] = _BILLING
    #: Inter-arrival CV range of renewal timing (a CV per account, uniform).
    timing_cv: tuple[float, float] = (0.8, 1.5)
    #: Per-account rate = rate * exp(s*z - s*s/2), z standard normal (mean kept); 0: equal.
    rate_sigma: float = 0.0
    #: A popular tool (``app.tools.simulate.tools``) whose user agent, TLS fingerprint and
    #: system-prompt template the campaign presents.
    camouflage: str | None = None


DEFAULTS: dict[str, CampaignDefaults] = {
    "hydra": CampaignDefaults(25_000, 26, 12, 3_000, 120, 200, 12, 2, 8),
    "slow": CampaignDefaults(
        8_000, 10, 96, 1_500, 60, 150, 20, 2, 12, timing="renewal", creation_bursts=20
    ),
    "mixed": CampaignDefaults(3_000, 26, 24, 800, 40, 100, 1, 2, 8),
    "rotating": CampaignDefaults(
        10_000, 26, 12, 20_000, 0, 400, 12, 2, 8, ip_mode="rotating", dispatch_jitter_ms=800.0
    ),
    "paraphrase": CampaignDefaults(10_000, 26, 12, 1_500, 60, 150, 12, 2, 8, paraphrase=True),
    "single": CampaignDefaults(5, 4_000, 1, 0, 5, 2, 1, 1, 4, timing="renewal", creation_bursts=1),
    "low_slow": CampaignDefaults(
        6_000,
        8,
        24,
        1_200,
        0,
        120,
        16,
        4,
        24,
        timing="renewal",
        infrastructures=4,
        account_age_days=(365.0, 3 * 365.0),
        matched_country_share=0.5,
    ),
}


def resolve(spec: CampaignSpec) -> CampaignDefaults:
    """The kind's defaults with the spec's mechanism overrides applied.

    >>> d = resolve(CampaignSpec(kind="hydra", id="x", timing="poisson", ip_kinds=["residential"]))
    >>> (d.timing, d.timing_cv, d.ip_kinds, d.requests_per_account_day)
    ('renewal', (1.0, 1.0), ('residential',), 26)
    >>> resolve(CampaignSpec(kind="low_slow", id="y")) == DEFAULTS["low_slow"]
    True
    """
    upd: dict[str, object] = {}
    if spec.infrastructures is not None:
        upd["infrastructures"] = spec.infrastructures
    if spec.account_age_days is not None:
        upd["account_age_days"] = tuple(spec.account_age_days)
    if spec.ip_kinds is not None:
        upd["ip_kinds"] = tuple(spec.ip_kinds)
    if spec.matched_country_share is not None:
        upd["matched_country_share"] = spec.matched_country_share
    if spec.proxy_countries is not None:
        upd["proxy_countries"] = spec.proxy_countries
    if spec.billing_countries is not None:
        upd["billing_countries"] = tuple(spec.billing_countries)
    if spec.timing_cv is not None:
        upd["timing_cv"] = tuple(spec.timing_cv)
    if spec.timing == "poisson":
        upd["timing"], upd["timing_cv"] = "renewal", (1.0, 1.0)
    elif spec.timing is not None:
        upd["timing"] = spec.timing
    if spec.rate_sigma is not None:
        upd["rate_sigma"] = spec.rate_sigma
    if spec.camouflage is not None:
        upd["camouflage"] = spec.camouflage
    if spec.paraphrase is not None:
        upd["paraphrase"] = spec.paraphrase
    return replace(DEFAULTS[spec.kind], **upd) if upd else DEFAULTS[spec.kind]  # type: ignore[arg-type]


def _given(value: int | None, default: int) -> int:
    """A spec's pool size if given (0 included), else the kind's default."""
    return default if value is None else value


#: What a camouflaged campaign copies from the tool's client besides the fingerprint:
#: it streams, and its requests carry the agent's conversation turn counter.
_TOOL_STREAM_SHARE = 0.95
_TOOL_TURNS = 40


def _traffic(
    w: World, d: CampaignDefaults, templates: tuple[str, ...], bases: tuple[int, ...]
) -> Traffic:
    # Harvesting asks for long, reasoning-heavy outputs near max_tokens.
    if d.camouflage is not None:
        # Every prompt wrapped in the tool's system prompt: its template hash, while
        # the SimHashes stay the campaign's own prompt families.
        tool_tpl = POPULAR_TOOLS[d.camouflage]["template"]
        templates = (tool_tpl,) * max(1, len(bases))
    return Traffic(
        model="frontier-1",
        categories=("coding", "agentic", "tool_use", "reasoning"),
        category_weights=(0.45, 0.25, 0.2, 0.1),
        input_tokens=TokenProfile((600.0, 1_200.0, 1_800.0, 2_600.0, 4_500.0, 7_000.0)),
        output_tokens=TokenProfile((1_500.0, 3_000.0, 4_500.0, 6_500.0, 8_000.0, 8_192.0)),
        max_tokens_choices=(8192, 16384),
        at_max_share=0.4,
        thinking_share=0.9,
        tool_count_range=(2, 12),
        stream_share=_TOOL_STREAM_SHARE if d.camouflage else 0.1,
        rate_limited_share=0.05,
        templates=templates,
        template_share=0.95,
        template_per_request=d.paraphrase and d.camouflage is None,
        simhash_bases=bases,
        simhash_flips=(6, 16) if d.paraphrase else (1, 4),
        turn_index_max=_TOOL_TURNS if d.camouflage else 3,
    )


def _pools(w: World, spec: CampaignSpec, d: CampaignDefaults) -> tuple[Endpoint, ...]:
    asns = [w.residential_asn() for _ in range(scaled(spec.asns or d.asns, w.scale, 3))]
    pool: list[Endpoint] = []
    n_proxy = scaled(_given(spec.proxy_subnets, d.proxy_subnets), w.scale, floor=0)
    per_subnet = 10 if d.ip_mode == "rotating" else 3
    kinds = d.ip_kinds or ("residential", "proxy", "mobile")
    for _ in range(n_proxy):
        sub = w.subnet()
        asn = asns[int(w.rng.integers(len(asns)))]
        country = str(w.rng.choice(_PROXY_COUNTRIES))
        pool += [
            w.endpoint(sub, asn=asn, ip_kind=str(w.rng.choice(kinds)), country=country)
            for _ in range(per_subnet)
        ]
    n_dc = scaled(_given(spec.datacenter_subnets, d.datacenter_subnets), w.scale, floor=0)
    for _ in range(n_dc):
        sub = w.subnet(cloud=True)
        asn = int(w.rng.choice(CLOUD_ASNS))
        pool += [w.endpoint(sub, asn=asn, ip_kind="datacenter", country="US") for _ in range(4)]
    if not pool:
        pool = [
            w.endpoint(w.subnet(cloud=True), asn=CLOUD_ASNS[0], ip_kind="datacenter", country="US")
        ]
    return tuple(pool)


def _timestamps(
    w: World, d: CampaignDefaults, rpd: float, first_ms: int, end_ms: int, tick_phase_ms: int
) -> np.ndarray:
    if d.timing == "dispatch":
        # Round-robin dispatcher: one job per cycle per account, on the dispatcher's
        # one-minute ticks, so many accounts fire in the same seconds.
        period = DAY_MS / rpd
        start = first_ms - first_ms % 60_000 + tick_phase_ms
        ts = periodic_arrivals(
            w.rng, start_ms=start, end_ms=end_ms, period_ms=period, jitter_ms=d.dispatch_jitter_ms
        )
        return ts[ts >= first_ms] if ts.size else ts
    return renewal_arrivals(
        w.rng,
        start_ms=first_ms,
        end_ms=end_ms,
        rate_per_day=rpd,
        cv=float(w.rng.uniform(*d.timing_cv)),
    )


def _fresh_ja4(w: World) -> str:
    """A JA4-shaped TLS fingerprint nobody else presents."""
    a, b = (int(x) for x in w.rng.integers(10, 20, size=2))
    h1, h2 = (int(x) for x in w.rng.integers(0, 2**48, size=2))
    return f"t13d{a}{b}h2_{h1:012x}_{h2:012x}"


def _sizes(w: World, spec: CampaignSpec, d: CampaignDefaults) -> _Sizes:
    """(accounts, requests/account/day, ramp ms, start ms, end ms) of a campaign."""
    n = scaled(spec.accounts or d.accounts, w.scale, floor=min(d.accounts, 5))
    rpd = spec.requests_per_account_day or d.requests_per_account_day
    ramp_ms = int((spec.ramp_h if spec.ramp_h is not None else d.ramp_h) * HOUR_MS)
    start = w.scenario.start_ms + int(spec.start_h * HOUR_MS)
    return n, rpd, ramp_ms, start, w.scenario.end_ms


def _needs_infrastructure_path(d: CampaignDefaults) -> bool:
    """Mechanisms only the per-infrastructure generator implements."""
    return (
        d.infrastructures > 1
        or d.account_age_days is not None
        or d.matched_country_share > 0
        or d.proxy_countries > 1
        or d.rate_sigma > 0
        or d.camouflage is not None
    )


def campaign_accounts(w: World, spec: CampaignSpec) -> list[AccountPlan]:
    d = resolve(spec)
    group = spec.group or spec.kind
    if spec.kind == "mixed":
        if _needs_infrastructure_path(d):
            raise ValueError(
                f"campaign {spec.id}: a mixed campaign runs in hijacked established accounts; "
                "account and infrastructure mechanisms do not apply to it"
            )
    elif _needs_infrastructure_path(d):
        return _infrastructure_accounts(w, spec, d, d.infrastructures, group=group)
    n, rpd, ramp_ms, start, end = _sizes(w, spec, d)
    pool = _pools(w, spec, d)
    payments = [
        w.next_id("pay") for _ in range(spec.payment_fingerprints or d.payment_fingerprints)
    ]
    ja4s = _CUSTOM_JA4[: max(1, spec.tls_fingerprints or d.tls_fingerprints)]
    if spec.distinct_tls:
        ja4s = tuple(j if j == SDK_PYTHON["tls_ja4"] else _fresh_ja4(w) for j in ja4s)
    n_tpl = spec.templates or d.templates
    templates = tuple(f"tpl-{spec.id}-{i}" for i in range(n_tpl))
    bases = tuple(int(x) for x in w.rng.integers(0, 2**63, size=n_tpl))
    traffic = _traffic(w, d, templates, bases)
    bursts = np.sort(w.rng.uniform(start - 3 * DAY_MS, start + ramp_ms, size=d.creation_bursts))
    cycle_ticks = max(1, int(DAY_MS / rpd // 60_000))

    if spec.kind == "mixed":
        # Established accounts with benign histories, whose credentials now also
        # carry campaign traffic from the campaign's infrastructure.
        hosts = _hijackable(w, n)
        for i, plan in enumerate(hosts):
            first = start + int(w.rng.uniform(0, ramp_ms))
            extra = _timestamps(w, d, rpd, first, end, (i % cycle_ticks) * 60_000)
            mask = np.concatenate([np.zeros(plan.ts_ms.size, bool), np.ones(extra.size, bool)])
            ts = np.concatenate([plan.ts_ms, extra])
            order = np.argsort(ts, kind="stable")
            plan.ts_ms = ts[order]
            plan.alt_mask = mask[order]
            plan.alt_traffic = traffic
            k = int(w.rng.integers(1, 4))
            plan.alt_endpoints = tuple(pool[int(j)] for j in w.rng.integers(len(pool), size=k))
            plan.group = group
            plan.campaign_id = spec.id
        return hosts

    plans = []
    for i in range(n):
        created = int(bursts[int(w.rng.integers(len(bursts)))] + w.rng.uniform(0, 20 * 60_000))
        first = max(
            created + int(w.rng.uniform(5 * 60_000, 2 * HOUR_MS)),
            start + int(w.rng.uniform(0, ramp_ms)),
        )
        ts = _timestamps(w, d, rpd, first, end, (i % cycle_ticks) * 60_000)
        if d.ip_mode == "rotating":
            endpoints, mode = pool, "random"
        else:
            k = int(w.rng.integers(1, 4))
            endpoints = tuple(pool[int(j)] for j in w.rng.integers(len(pool), size=k))
            mode = "random"
        plans.append(
            AccountPlan(
                account_id=w.next_id("acct"),
                group=group,
                campaign_id=spec.id,
                created_ms=created,
                billing_country=str(w.rng.choice(d.billing_countries)),
                user_agent=SDK_PYTHON["user_agent"],
                tls_ja4=ja4s[i % len(ja4s)],
                payment_fingerprint=payments[i % len(payments)],
                api_keys=(w.next_id("key"),),
                endpoints=endpoints,
                endpoint_mode=mode,
                traffic=traffic,
                ts_ms=ts,
            )
        )
    return plans


def _infra_pool(
    w: World,
    *,
    subnets: int,
    dc_subnets: int,
    asns: int,
    countries: tuple[str, ...],
    ip_kinds: tuple[str, ...] | None,
    taken_asns: set[int],
) -> tuple[Endpoint, ...]:
    """One infrastructure's addresses: residential-proxy /24s over its own ASNs (round
    robin over ``countries`` if given, else anywhere; none in ``taken_asns``, which
    gets them), plus optional datacenter /24s (in the clouds everyone uses)."""
    own_asns = []
    for _ in range(asns):
        asn = w.residential_asn()
        while asn in taken_asns:
            asn = w.residential_asn()
        taken_asns.add(asn)
        own_asns.append(asn)
    pool: list[Endpoint] = []
    if ip_kinds is not None:
        kinds = ip_kinds
    else:
        kinds = ("residential", "mobile") if countries else ("residential", "proxy", "mobile")
    for s in range(subnets):
        sub = w.subnet()
        asn = own_asns[int(w.rng.integers(len(own_asns)))]
        c = countries[s % len(countries)] if countries else str(w.rng.choice(_PROXY_COUNTRIES))
        pool += [
            w.endpoint(sub, asn=asn, ip_kind=str(w.rng.choice(kinds)), country=c) for _ in range(3)
        ]
    for s in range(dc_subnets):
        sub = w.subnet(cloud=True)
        asn = int(w.rng.choice(CLOUD_ASNS))
        c = countries[s % len(countries)] if countries else "US"
        pool += [w.endpoint(sub, asn=asn, ip_kind="datacenter", country=c)]
    return tuple(pool)


def _countries(w: World, n: int) -> tuple[str, ...]:
    """n distinct countries drawn like the benign population's (at most all of them)."""
    out: list[str] = []
    for _ in range(50 * n):
        c = w.country()[0]
        if c not in out:
            out.append(c)
        if len(out) >= n:
            break
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Infrastructure:
    pool: tuple[Endpoint, ...]
    #: Matched infrastructures: country -> its addresses (accounts bill there).
    by_country: dict[str, tuple[Endpoint, ...]]
    payments: list[str]
    ja4s: list[str]
    user_agent: str
    traffic: Traffic


def _infrastructure_accounts(
    w: World, spec: CampaignSpec, d: CampaignDefaults, n_infra: int, *, group: str
) -> list[AccountPlan]:
    """Accounts split round-robin over ``n_infra`` disjoint infrastructures.

    Pool sizes (proxy/datacenter subnets, ASNs, payment and TLS fingerprints,
    templates) are campaign totals divided between the infrastructures. Template j
    of every infrastructure is a different hash of the same prompt family (SimHash
    base j); the request shape (token sizes, categories, thinking, max_tokens) is
    the same everywhere. A camouflaged campaign presents its tool's user agent, TLS
    fingerprint and system-prompt template on every infrastructure instead.
    """
    n, rpd, ramp_ms, start, end = _sizes(w, spec, d)

    def share(total: int | None, default: int, *, scale: bool) -> int:
        t = total or default
        return max(1, (scaled(t, w.scale, floor=n_infra) if scale else t) // n_infra)

    subnets = share(spec.proxy_subnets, d.proxy_subnets, scale=True)
    dc_total = _given(spec.datacenter_subnets, d.datacenter_subnets)
    dc = scaled(dc_total, w.scale, floor=0) // n_infra if dc_total else 0
    asns = share(spec.asns, d.asns, scale=True)
    pays = share(spec.payment_fingerprints, d.payment_fingerprints, scale=False)
    tls = share(spec.tls_fingerprints, d.tls_fingerprints, scale=False)
    families = share(spec.templates, d.templates, scale=False)
    bases = tuple(int(x) for x in w.rng.integers(0, 2**63, size=families))
    n_matched = round(d.matched_country_share * n_infra)
    tool = POPULAR_TOOLS[d.camouflage] if d.camouflage is not None else None
    infras = []
    taken_asns: set[int] = set()
    for k in range(n_infra):
        countries = _countries(w, d.proxy_countries) if k < n_matched else ()
        templates = tuple(f"tpl-{spec.id}-{k}-{j}" for j in range(families))
        pool = _infra_pool(
            w,
            subnets=max(subnets, len(countries)),
            dc_subnets=dc,
            asns=asns,
            countries=countries,
            ip_kinds=d.ip_kinds,
            taken_asns=taken_asns,
        )
        payments = [w.next_id("pay") for _ in range(pays)]
        if tool is not None:
            ja4s, ua = [tool["tls_ja4"]], tool["user_agent"]
        else:
            ja4s = [_fresh_ja4(w) for _ in range(tls)]
            ua = str(w.rng.choice(_SCRIPT_UAS))
        infras.append(
            _Infrastructure(
                pool=pool,
                by_country={c: tuple(e for e in pool if e.country == c) for c in countries},
                payments=payments,
                ja4s=ja4s,
                user_agent=ua,
                traffic=_traffic(w, d, templates, bases),
            )
        )
    lo_age, hi_age = d.account_age_days or (0.0, 0.0)
    cycle_ticks = max(1, int(DAY_MS / rpd // 60_000))
    plans = []
    for i in range(n):
        infra = infras[i % n_infra]
        slot = i // n_infra
        if d.account_age_days is not None:
            created = start - int(w.rng.uniform(lo_age, hi_age) * DAY_MS)
            first = start + int(w.rng.uniform(0, ramp_ms))
        else:
            created = start + int(w.rng.uniform(-3 * DAY_MS, ramp_ms))
            first = max(created + int(w.rng.uniform(5 * 60_000, 2 * HOUR_MS)), start)
        rate = rpd
        if d.rate_sigma > 0:
            s = d.rate_sigma
            rate = rpd * float(np.exp(s * w.rng.standard_normal() - s * s / 2))
        ts = _timestamps(w, d, rate, first, end, (slot % cycle_ticks) * 60_000)
        k = int(w.rng.integers(1, 4))
        countries = tuple(infra.by_country)
        if len(countries) > 1:
            country: str | None = countries[int(w.rng.integers(len(countries)))]
        else:
            country = countries[0] if countries else None
        pool = infra.by_country[country] if country is not None else infra.pool
        plans.append(
            AccountPlan(
                account_id=w.next_id("acct"),
                group=group,
                campaign_id=spec.id,
                created_ms=created,
                billing_country=country or str(w.rng.choice(d.billing_countries)),
                user_agent=infra.user_agent,
                tls_ja4=infra.ja4s[slot % len(infra.ja4s)],
                payment_fingerprint=infra.payments[slot % len(infra.payments)],
                api_keys=(w.next_id("key"),),
                endpoints=tuple(pool[int(j)] for j in w.rng.integers(len(pool), size=k)),
                endpoint_mode="random",
                traffic=infra.traffic,
                ts_ms=ts,
            )
        )
    return plans


def _hijackable(w: World, n: int) -> list[AccountPlan]:
    """n established ordinary accounts (old, with their own benign traffic)."""
    from app.tools.simulate.scenario import BenignSpec

    sub = w.scenario.model_copy(
        update={
            "benign": BenignSpec(accounts=n, median_requests_per_day=3.0, coding_agent_share=0.2)
        }
    )
    helper = World(
        scenario=sub,
        scale=1.0,
        rng=w.rng,
        params=w.params,
        _used_subnets=w._used_subnets,
        _counter=w._counter,
    )
    plans = benign_accounts(helper)
    w._counter = helper._counter
    for p in plans:
        p.created_ms = min(p.created_ms, w.scenario.start_ms - 60 * DAY_MS)
    return plans
