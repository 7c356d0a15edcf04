"""Benign traffic: ordinary accounts (calibrated on ServeGen/Azure) and hard negatives.

Every group here is benign; each is something a naive detector flags: shared
coding-agent fingerprints, corporate and university NATs, cloud apps in shared
datacenter subnets, metronome CI jobs, agent frameworks, release bursts and
benchmark runs, enterprise eval harnesses whose cron batches look like harvesting,
university classes that sign up together behind one NAT, and a popular agent whose
tens of thousands of users share its fingerprint and system prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.tools.simulate.arrivals import DAY_MS, HOUR_MS, periodic_arrivals, renewal_arrivals
from app.tools.simulate.plan import AccountPlan, Endpoint, TokenProfile, Traffic
from app.tools.simulate.scenario import HardNegativeSpec, scaled
from app.tools.simulate.tools import CODING_AGENT, POPULAR_TOOLS, SDK_PYTHON
from app.tools.simulate.world import CLOUD_ASNS, World

__all__ = ["CODING_AGENT", "SDK_PYTHON", "benign_accounts", "hard_negative_accounts"]

_OTHER_CLIENTS = (
    ("llm-sdk-node/0.30.1", "t13d1516h2_8daaf6152771_02713d6af862"),
    ("curl/8.5.0", "t13d3112h2_e8f1e7e78f70_6bebaf5329ac"),
    ("workbench-web/2026.11", "t13d1517h2_8daaf6152771_b0da82dd1658"),
    ("langchain-python/0.3", "t13d1715h2_5b57614c22b0_3d5424432f57"),
)
_CHAT_CATS = ("chat", "writing", "coding", "reasoning", "other")
_AGENT_CATS = ("coding", "agentic", "tool_use")


def _created(w: World, *, min_days: float = 10, max_days: float = 1500) -> int:
    days = float(
        np.clip(np.exp(w.rng.uniform(np.log(min_days), np.log(max_days))), min_days, max_days)
    )
    return w.scenario.start_ms - int(days * DAY_MS)


def _simhash_bases(w: World, n: int) -> tuple[int, ...]:
    return tuple(int(x) for x in w.rng.integers(0, 2**63, size=n))


def _regular_traffic(w: World, *, agent: bool) -> Traffic:
    if agent:
        inp, _ = w.azure_profile("code", factor=3.0)
        _, out = w.token_profiles()
        return Traffic(
            categories=_AGENT_CATS,
            category_weights=(0.6, 0.25, 0.15),
            input_tokens=inp,
            output_tokens=out,
            max_tokens_choices=(8192, 32000),
            at_max_share=0.02,
            thinking_share=0.5,
            tool_count_range=(3, 25),
            stream_share=0.95,
            rate_limited_share=0.01,
            templates=(CODING_AGENT["template"],),
            template_share=0.95,
            simhash_bases=_simhash_bases(w, 1),
            simhash_flips=(8, 22),
            turn_index_max=40,
        )
    inp, out = w.token_profiles()
    cat_w = w.rng.dirichlet(np.ones(len(_CHAT_CATS)))
    own_templates = tuple(f"tpl-{w.next_id('u')}" for _ in range(int(w.rng.integers(1, 4))))
    return Traffic(
        model=str(w.rng.choice(("frontier-1", "frontier-1", "frontier-1-mini"))),
        categories=_CHAT_CATS,
        category_weights=tuple(float(x) for x in cat_w),
        input_tokens=inp,
        output_tokens=out,
        max_tokens_choices=(None, 1024, 4096, 8192),
        at_max_share=0.01,
        thinking_share=float(w.rng.uniform(0, 0.3)),
        tool_count_range=(0, 2),
        stream_share=float(w.rng.uniform(0.2, 0.9)),
        rate_limited_share=0.002,
        templates=own_templates,
        template_share=float(w.rng.uniform(0.0, 0.6)),
        simhash_bases=(),
        simhash_flips=(0, 0),
        turn_index_max=10,
    )


def _home_endpoints(w: World, country: str) -> tuple[Endpoint, ...]:
    n = int(w.rng.choice((1, 1, 1, 2, 3)))
    kinds = ("residential", "residential", "mobile")
    out = []
    for _ in range(n):
        subnet, asn = w.home_block(country)
        out.append(w.endpoint(subnet, asn=asn, ip_kind=str(w.rng.choice(kinds)), country=country))
    return tuple(out)


def _vpn_pool(w: World) -> tuple[Endpoint, ...]:
    return tuple(
        w.endpoint(
            w.subnet(cloud=True), asn=int(w.rng.choice(CLOUD_ASNS)), ip_kind="vpn", country="NL"
        )
        for _ in range(8)
    )


def benign_accounts(w: World) -> list[AccountPlan]:
    """Ordinary customers: heavy-tailed volume, bursty timing, daily/weekly cycles."""
    spec = w.scenario.benign
    n = scaled(spec.accounts, w.scale, floor=0)
    start, end = w.scenario.start_ms, w.scenario.end_ms
    vpn = _vpn_pool(w)
    plans: list[AccountPlan] = []
    org: tuple[str, str, tuple[str, ...]] | None = None
    org_left = 0
    for _ in range(n):
        country, tz = w.country()
        agent = bool(w.rng.random() < spec.coding_agent_share)
        if agent:
            ua, ja4 = CODING_AGENT["user_agent"], CODING_AGENT["tls_ja4"]
        elif w.rng.random() < 0.45:
            ua, ja4 = SDK_PYTHON["user_agent"], SDK_PYTHON["tls_ja4"]
        else:
            ua, ja4 = _OTHER_CLIENTS[int(w.rng.integers(len(_OTHER_CLIENTS)))]
        # 6% of accounts belong to small organisations sharing billing.
        if org_left == 0 and w.rng.random() < 0.01:
            org_left = int(w.rng.integers(2, 10))
            org = (
                w.next_id("org"),
                w.next_id("pay"),
                tuple(w.next_id("key") for _ in range(int(w.rng.integers(3, 20)))),
            )
        in_org = org_left > 0 and org is not None
        if in_org:
            org_left -= 1
        created = _created(w)
        first = start
        if w.rng.random() < 0.04:  # signs up during the scenario
            created = int(w.rng.uniform(start, end))
            first = created + int(w.rng.uniform(60_000, 3 * HOUR_MS))
        endpoints = vpn if w.rng.random() < spec.vpn_share else _home_endpoints(w, country)
        interactive = bool(w.rng.random() < 0.7)
        ts = w.human_arrivals(
            rate_per_day=w.daily_rate(spec.median_requests_per_day),
            tz_offset_h=tz,
            start_ms=first,
            interactive=interactive,
        )
        billing = country if w.rng.random() > 0.03 else w.country()[0]
        plans.append(
            AccountPlan(
                account_id=w.next_id("acct"),
                group="regular",
                created_ms=created,
                org_id=org[0] if in_org and org else None,
                billing_country=billing,
                user_agent=ua,
                tls_ja4=ja4,
                payment_fingerprint=(org[1] if in_org and org else w.next_id("pay")),
                api_keys=(org[2] if in_org and org else (w.next_id("key"),)),
                endpoints=endpoints,
                endpoint_mode="random" if endpoints is vpn else "sticky",
                traffic=_regular_traffic(w, agent=agent),
                ts_ms=ts,
            )
        )
    return plans


# ---- hard negatives ------------------------------------------------------------------


def _corp_nat(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    plans = []
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        country, tz = w.country()
        subnet = w.subnet()
        asn = w.residential_asn()
        egress = tuple(
            w.endpoint(subnet, asn=asn, ip_kind="unknown", country=country, host=h)
            for h in (10, 11)
        )
        org, pay = w.next_id("org"), w.next_id("pay")
        keys = tuple(w.next_id("key") for _ in range(40))
        for _ in range(scaled(spec.accounts, w.scale, floor=10)):
            agent = bool(w.rng.random() < 0.5)
            client = CODING_AGENT if agent else SDK_PYTHON
            ts = w.human_arrivals(rate_per_day=w.daily_rate(8.0, cap=600), tz_offset_h=tz)
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w, min_days=60),
                    org_id=org,
                    billing_country=country,
                    user_agent=client["user_agent"],
                    tls_ja4=client["tls_ja4"],
                    payment_fingerprint=pay,
                    api_keys=keys,
                    endpoints=egress,
                    endpoint_mode="random",
                    traffic=_regular_traffic(w, agent=agent),
                    ts_ms=ts,
                )
            )
    return plans


def _university(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    plans = []
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        country, tz = w.country()
        subnet = w.subnet()
        asn = w.residential_asn()
        nat = tuple(
            w.endpoint(subnet, asn=asn, ip_kind="unknown", country=country, host=h)
            for h in range(20, 24)
        )
        course_tpl = f"tpl-course-{w.next_id('c')}"
        course_hash = _simhash_bases(w, 1)
        semester = w.scenario.start_ms - int(w.rng.uniform(3, 14) * DAY_MS)
        for _ in range(scaled(spec.accounts, w.scale, floor=10)):
            # Students sign up in a burst at the start of the semester.
            created = semester + int(w.rng.uniform(0, 2 * DAY_MS))
            ts = w.human_arrivals(rate_per_day=w.daily_rate(5.0, cap=300), tz_offset_h=tz + 4)
            inp, out = w.token_profiles()
            traffic = Traffic(
                categories=("coding", "reasoning", "writing", "chat"),
                category_weights=(0.5, 0.2, 0.15, 0.15),
                input_tokens=inp,
                output_tokens=out,
                max_tokens_choices=(None, 4096),
                thinking_share=0.3,
                templates=(course_tpl,),
                template_share=0.4,
                simhash_bases=course_hash,
                simhash_flips=(4, 12),
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=created,
                    billing_country=country,
                    user_agent="workbench-web/2026.11",
                    tls_ja4=_OTHER_CLIENTS[2][1],
                    payment_fingerprint=None,
                    api_keys=(w.next_id("key"),),
                    endpoints=nat,
                    endpoint_mode="random",
                    traffic=traffic,
                    ts_ms=ts,
                )
            )
    return plans


def _cloud_app(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    # Apps of unrelated companies share the cloud provider's /24s.
    shared = [w.subnet(cloud=True) for _ in range(max(3, scaled(spec.units, w.scale) // 4))]
    plans = []
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        _country, tz = w.country()
        asn = int(w.rng.choice(CLOUD_ASNS))
        sub = shared[int(w.rng.integers(len(shared)))]
        eps = tuple(
            w.endpoint(sub, asn=asn, ip_kind="datacenter", country="US")
            for _ in range(int(w.rng.integers(1, 4)))
        )
        org, pay = w.next_id("org"), w.next_id("pay")
        tpl = (f"tpl-app-{w.next_id('a')}",)
        for _ in range(scaled(spec.accounts, w.scale, floor=2)):
            ts = w.human_arrivals(
                rate_per_day=float(w.rng.uniform(300, 4_000)),
                tz_offset_h=tz,
                cv=float(w.rng.uniform(1, 2.5)),
            )
            inp, out = w.token_profiles()
            traffic = Traffic(
                categories=("chat", "writing", "other", "tool_use"),
                category_weights=(0.5, 0.3, 0.1, 0.1),
                input_tokens=inp,
                output_tokens=out,
                max_tokens_choices=(1024, 2048),
                at_max_share=0.05,
                tool_count_range=(0, 4),
                templates=tpl,
                template_share=0.9,
                simhash_bases=_simhash_bases(w, 1),
                simhash_flips=(6, 18),
                rate_limited_share=0.02,
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w, min_days=90),
                    org_id=org,
                    billing_country="US",
                    user_agent=SDK_PYTHON["user_agent"],
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=pay,
                    api_keys=tuple(w.next_id("key") for _ in range(3)),
                    endpoints=eps,
                    endpoint_mode="random",
                    traffic=traffic,
                    ts_ms=ts,
                )
            )
    return plans


def _ci_batch(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    runners = [w.subnet(cloud=True) for _ in range(6)]  # shared CI runner ranges
    plans = []
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        for _ in range(scaled(spec.accounts, w.scale, floor=2)):
            period = float(w.rng.choice((60_000, 120_000, 300_000, 600_000)))
            ts = periodic_arrivals(
                w.rng,
                start_ms=w.scenario.start_ms + int(w.rng.uniform(0, period)),
                end_ms=w.scenario.end_ms,
                period_ms=period,
                jitter_ms=1_500,
            )
            inp, out = w.azure_profile("code")
            sub = runners[int(w.rng.integers(len(runners)))]
            traffic = Traffic(
                categories=("coding",),
                category_weights=(1.0,),
                input_tokens=inp,
                output_tokens=out,
                max_tokens_choices=(2048,),
                templates=(f"tpl-ci-{w.next_id('ci')}",),
                template_share=1.0,
                simhash_bases=_simhash_bases(w, 1),
                simhash_flips=(1, 5),
                stream_share=0.0,
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w, min_days=30),
                    org_id=w.next_id("org"),
                    billing_country="US",
                    user_agent=SDK_PYTHON["user_agent"],
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=w.next_id("pay"),
                    api_keys=(w.next_id("key"),),
                    endpoints=tuple(
                        w.endpoint(sub, asn=8075, ip_kind="datacenter", country="US")
                        for _ in range(20)
                    ),
                    endpoint_mode="random",
                    traffic=traffic,
                    ts_ms=ts,
                )
            )
    return plans


def _agent_framework(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    plans = []
    base = _simhash_bases(w, 3)
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        for _ in range(scaled(spec.accounts, w.scale, floor=2)):
            country, tz = w.country()
            inp, _ = w.azure_profile("code", factor=4.0)
            _, out = w.token_profiles()
            traffic = Traffic(
                categories=("agentic", "tool_use", "coding"),
                category_weights=(0.5, 0.3, 0.2),
                input_tokens=inp,
                output_tokens=out,
                max_tokens_choices=(8192, 16384),
                at_max_share=0.15,
                thinking_share=0.7,
                tool_count_range=(5, 40),
                stream_share=0.9,
                templates=("tpl-agentkit-planner", "tpl-agentkit-executor"),
                template_share=0.8,
                simhash_bases=base,
                simhash_flips=(6, 20),
                rate_limited_share=0.03,
                turn_index_max=60,
            )
            ts = w.human_arrivals(rate_per_day=w.daily_rate(30.0, cap=3_000), tz_offset_h=tz)
            eps = (
                _home_endpoints(w, country)
                if w.rng.random() < 0.6
                else tuple(
                    w.endpoint(
                        w.subnet(cloud=True),
                        asn=int(w.rng.choice(CLOUD_ASNS)),
                        ip_kind="datacenter",
                        country="US",
                    )
                    for _ in range(2)
                )
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w),
                    billing_country=country,
                    user_agent="agentkit/0.9.3 python/3.12",
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=w.next_id("pay"),
                    api_keys=(w.next_id("key"),),
                    endpoints=eps,
                    traffic=traffic,
                    ts_ms=ts,
                )
            )
    return plans


def _release_burst(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    """Existing customers all try the new model within hours of its release."""
    release = w.scenario.start_ms + int(spec.at_h * HOUR_MS)
    plans = []
    for _ in range(scaled(spec.units, w.scale, floor=3)):
        for _ in range(scaled(spec.accounts, w.scale, floor=2)):
            country, tz = w.country()
            agent = bool(w.rng.random() < 0.3)
            traffic = _regular_traffic(w, agent=agent)
            traffic.model = "frontier-2"
            daily = w.daily_rate(4.0, cap=1_000)
            ts = np.concatenate(
                [
                    w.human_arrivals(rate_per_day=daily, tz_offset_h=tz),
                    renewal_arrivals(
                        w.rng,
                        start_ms=release + int(w.rng.uniform(0, 3 * HOUR_MS)),
                        end_ms=min(release + 9 * HOUR_MS, w.scenario.end_ms),
                        rate_per_day=float(w.rng.uniform(50, 400)),
                        cv=1.5,
                    ),
                ]
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w),
                    billing_country=country,
                    user_agent=SDK_PYTHON["user_agent"],
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=w.next_id("pay"),
                    api_keys=(w.next_id("key"),),
                    endpoints=_home_endpoints(w, country),
                    traffic=traffic,
                    ts_ms=np.sort(ts),
                )
            )
    return plans


def _eval_run(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    """Benchmark runs: one templated prompt set at a steady clip for a few hours."""
    plans = []
    for u in range(scaled(spec.units, w.scale, floor=3)):
        at = w.scenario.start_ms + int((spec.at_h + 7 * u) * HOUR_MS)
        org, pay = w.next_id("org"), w.next_id("pay")
        sub = w.subnet(cloud=True)
        for _ in range(scaled(spec.accounts, w.scale, floor=2)):
            bench = (f"tpl-bench-{w.next_id('b')}",)
            run = renewal_arrivals(
                w.rng,
                start_ms=at,
                end_ms=min(at + 3 * HOUR_MS, w.scenario.end_ms),
                rate_per_day=86_400 / 4,
                cv=0.4,
            )
            background = renewal_arrivals(
                w.rng,
                start_ms=w.scenario.start_ms,
                end_ms=w.scenario.end_ms,
                rate_per_day=20.0,
                cv=1.5,
                hourly=w.hourly(True),
            )
            inp, _ = w.azure_profile("conversation")
            _, out = w.token_profiles()
            traffic = Traffic(
                categories=("reasoning", "coding", "tool_use"),
                category_weights=(0.5, 0.4, 0.1),
                input_tokens=inp,
                output_tokens=out,
                max_tokens_choices=(16384,),
                at_max_share=0.1,
                thinking_share=0.9,
                tool_count_range=(0, 3),
                stream_share=0.0,
                templates=bench,
                template_share=0.9,
                simhash_bases=_simhash_bases(w, 1),
                simhash_flips=(2, 8),
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w, min_days=100),
                    org_id=org,
                    billing_country="US",
                    user_agent=SDK_PYTHON["user_agent"],
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=pay,
                    api_keys=(w.next_id("key"),),
                    endpoints=(w.endpoint(sub, asn=16509, ip_kind="datacenter", country="US"),),
                    traffic=traffic,
                    ts_ms=np.sort(np.concatenate([run, background])),
                )
            )
    return plans


def _cron_batches(
    w: World, *, start_ms: int, end_ms: int, every_ms: float, phase_ms: int
) -> list[int]:
    """Start times of a cron schedule (each run starts up to a minute late)."""
    first = start_ms + phase_ms
    return [
        int(t + w.rng.uniform(0, 60_000)) for t in np.arange(float(first), float(end_ms), every_ms)
    ]


def _enterprise_eval(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    """An enterprise's eval harness: long-lived org accounts, one payment method,
    a few eval-suite templates, harvest-like requests (coding, reasoning, tool use,
    thinking, long outputs near ``max_tokens``) fired in cron batches across the
    org's accounts from one or two cloud /24s in the billing country."""
    plans = []
    start, end = w.scenario.start_ms, w.scenario.end_ms
    every = spec.cron_every_h * HOUR_MS
    window = spec.batch_minutes * 60_000
    for _ in range(scaled(spec.units, w.scale, floor=2)):
        country, tz = w.country()
        asn = int(w.rng.choice(CLOUD_ASNS))
        egress = tuple(
            w.endpoint(sub, asn=asn, ip_kind="datacenter", country=country)
            for sub in [w.subnet(cloud=True) for _ in range(int(w.rng.integers(1, 3)))]
            for _ in range(int(w.rng.integers(2, 7)))
        )
        org, pay = w.next_id("org"), w.next_id("pay")
        keys = tuple(w.next_id("key") for _ in range(int(w.rng.integers(2, 6))))
        n_tpl = spec.templates or int(w.rng.integers(3, 7))
        suite = tuple(f"tpl-evalsuite-{w.next_id('e')}" for _ in range(n_tpl))
        suite_hash = _simhash_bases(w, n_tpl)
        inp, _ = w.azure_profile("code", factor=2.0)
        max_tokens = (8192, 16384) if w.rng.random() < 0.5 else (16384,)
        phase = int(w.rng.integers(0, max(1, int(spec.cron_every_h * 60)))) * 60_000
        batches = _cron_batches(w, start_ms=start, end_ms=end, every_ms=every, phase_ms=phase)
        for _ in range(scaled(spec.accounts, w.scale, floor=5)):
            traffic = Traffic(
                categories=("coding", "reasoning", "tool_use", "agentic"),
                category_weights=(0.4, 0.3, 0.2, 0.1),
                input_tokens=inp,
                output_tokens=TokenProfile((1_200.0, 2_500.0, 4_000.0, 6_000.0, 8_000.0, 8_192.0)),
                max_tokens_choices=max_tokens,
                at_max_share=float(w.rng.uniform(0.25, 0.45)),
                thinking_share=float(w.rng.uniform(0.8, 0.95)),
                tool_count_range=(0, 10),
                stream_share=0.0,
                rate_limited_share=0.04,
                templates=suite,
                template_share=float(w.rng.uniform(0.85, 0.97)),
                simhash_bases=suite_hash,
                simhash_flips=(2, 10),
                turn_index_max=2,
            )
            runs = [
                b + np.sort(w.rng.uniform(0, window, size=int(w.rng.poisson(spec.batch_requests))))
                for b in batches
            ]
            # Engineers also poke the harness by hand during their working day.
            adhoc = w.human_arrivals(rate_per_day=2.0, tz_offset_h=tz, cv=1.5)
            ts = np.sort(np.concatenate([*runs, adhoc]).astype(np.int64))
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=_created(w, min_days=365, max_days=4 * 365),
                    org_id=org,
                    billing_country=country,
                    user_agent=SDK_PYTHON["user_agent"],
                    tls_ja4=SDK_PYTHON["tls_ja4"],
                    payment_fingerprint=pay,
                    api_keys=keys,
                    endpoints=egress,
                    endpoint_mode="random",
                    traffic=traffic,
                    ts_ms=ts[ts < end],
                )
            )
    return plans


def _university_class(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    """A class that signs up together: every student's account is created within
    ``signup_window_h`` of the first lab session, all behind the campus NAT (one /24,
    a few addresses), all working on one assignment template; a burst of requests in
    the lab, then ordinary student use in the campus time zone."""
    plans = []
    lo_tpl, hi_tpl = spec.template_share or (0.5, 0.9)
    median = spec.requests_per_day or 6.0
    window = int(spec.signup_window_h * HOUR_MS)
    start, end = w.scenario.start_ms, w.scenario.end_ms
    for u in range(scaled(spec.units, w.scale, floor=2)):
        country, tz = w.country()
        subnet = w.subnet()
        asn = w.residential_asn()
        nat = tuple(
            w.endpoint(subnet, asn=asn, ip_kind="unknown", country=country, host=h)
            for h in range(30, 30 + int(w.rng.integers(1, 5)))
        )
        assignment = f"tpl-assignment-{w.next_id('c')}"
        assignment_hash = _simhash_bases(w, 1)
        signup = start + int((spec.at_h + 7 * u) * HOUR_MS)
        lab_end = signup + window + 2 * HOUR_MS
        for _ in range(scaled(spec.accounts, w.scale, floor=10)):
            created = signup + int(w.rng.uniform(0, window))
            first = created + int(w.rng.uniform(2 * 60_000, 30 * 60_000))
            lab = np.sort(
                w.rng.uniform(first, max(first + 1, lab_end), size=int(w.rng.poisson(8.0)))
            )
            later = w.human_arrivals(
                rate_per_day=w.daily_rate(median, cap=300),
                tz_offset_h=tz,
                start_ms=min(lab_end, end),
            )
            ts = np.concatenate([[first], lab, later]).astype(np.int64)
            ts = np.sort(ts[ts < end])
            inp, out = w.token_profiles()
            sdk = bool(w.rng.random() < 0.7)
            ua, ja4 = (
                (SDK_PYTHON["user_agent"], SDK_PYTHON["tls_ja4"]) if sdk else _OTHER_CLIENTS[2]
            )
            cat_w = w.rng.dirichlet(np.array([5.0, 2.0, 1.5, 1.5]))
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=created,
                    billing_country=country,
                    user_agent=ua,
                    tls_ja4=ja4,
                    payment_fingerprint=None,
                    api_keys=(w.next_id("key"),),
                    endpoints=nat,
                    endpoint_mode="random",
                    traffic=Traffic(
                        categories=("coding", "reasoning", "writing", "chat"),
                        category_weights=tuple(float(x) for x in cat_w),
                        input_tokens=inp,
                        output_tokens=out,
                        max_tokens_choices=(None, 1024, 4096),
                        thinking_share=float(w.rng.uniform(0.05, 0.5)),
                        stream_share=float(w.rng.uniform(0.0, 0.8)),
                        templates=(assignment,),
                        template_share=float(w.rng.uniform(lo_tpl, hi_tpl)),
                        simhash_bases=assignment_hash,
                        simhash_flips=(4, 14),
                        turn_index_max=int(w.rng.integers(2, 12)),
                    ),
                    ts_ms=ts,
                )
            )
    return plans


@dataclass(slots=True)
class _Office:
    """An office NAT (two egress addresses in one /24) and the seats left in it."""

    endpoints: tuple[Endpoint, ...]
    country: str
    tz: float
    seats: int

    @classmethod
    def open(cls, w: World, country: str, tz: float, size: tuple[float, float]) -> _Office:
        subnet, asn = w.home_block(country)
        eps = tuple(
            w.endpoint(subnet, asn=asn, ip_kind="unknown", country=country, host=h) for h in (1, 2)
        )
        return cls(eps, country, tz, int(w.rng.integers(int(size[0]), int(size[1]) + 1)))


#: A research agent's completion lengths (p05…p99 tokens), scaled per user.
_RESEARCH_OUTPUT = (800.0, 2_000.0, 3_500.0, 5_000.0, 8_000.0, 12_000.0)


def _popular_agent(w: World, spec: HardNegativeSpec, group: str) -> list[AccountPlan]:
    """A popular agent's users: one user agent, TLS fingerprint and system-prompt
    template (``tool``) shared by tens of thousands of independent customers, each
    with their own billing, country, addresses, volume, hours and request mix."""
    tool = POPULAR_TOOLS[spec.tool]
    lo_tpl, hi_tpl = spec.template_share or (0.85, 0.99)
    median = spec.requests_per_day or 4.0
    start, end = w.scenario.start_ms, w.scenario.end_ms
    cats = ("coding", "agentic", "tool_use", "reasoning", "chat")
    research = spec.profile == "research"
    plans = []
    office: _Office | None = None  # the office filling up
    for _ in range(scaled(spec.units, w.scale, floor=1)):
        for _ in range(scaled(spec.accounts, w.scale, floor=10)):
            country, tz = w.country()
            created, first = _created(w), start
            if w.rng.random() < spec.signup_share:  # the tool brings in new customers
                created = int(w.rng.uniform(start, end))
                first = created + int(w.rng.uniform(60_000, 2 * HOUR_MS))
            eps: tuple[Endpoint, ...]
            if spec.office_share and w.rng.random() < spec.office_share:
                # colleagues behind one office NAT, each with an account and card of
                # their own (no org): the block is theirs, the country the office's
                if office is None or office.seats == 0:
                    office = _Office.open(w, country, tz, spec.office_size)
                office.seats -= 1
                eps, country, tz = office.endpoints, office.country, office.tz
            elif w.rng.random() < 0.1:  # a cloud dev box
                eps = (
                    w.endpoint(
                        w.subnet(cloud=True),
                        asn=int(w.rng.choice(CLOUD_ASNS)),
                        ip_kind="datacenter",
                        country=country,
                    ),
                )
            else:
                eps = _home_endpoints(w, country)
            inp, _ = w.azure_profile("code", factor=float(w.rng.uniform(1.0, 5.0)))
            _, out = w.token_profiles()
            cat_w = w.rng.dirichlet(np.array([4.0, 2.0, 1.5, 1.0, 1.0]))
            max_tok: tuple[tuple[int, ...], ...] = (
                (4096, 8192),
                (8192,),
                (8192, 32000),
                (16384, 32000),
            )
            at_max = (0.0, 0.08)
            thinking = (0.05, 0.95)
            if research:  # long, reasoning-heavy answers: harvest-like by nature
                cat_w = w.rng.dirichlet(np.array([2.0, 1.5, 1.0, 4.0, 0.3]))
                f = float(w.rng.uniform(0.7, 1.6))
                out = TokenProfile(tuple(f * q for q in _RESEARCH_OUTPUT))
                max_tok = ((16384, 32000), (32000,), (8192, 16384))
                at_max, thinking = (0.05, 0.4), (0.7, 1.0)
            ts = w.human_arrivals(
                rate_per_day=w.daily_rate(median, cap=2_000),
                tz_offset_h=tz,
                start_ms=first,
                interactive=bool(w.rng.random() < 0.8),
            )
            plans.append(
                AccountPlan(
                    account_id=w.next_id("acct"),
                    group=group,
                    created_ms=created,
                    billing_country=country if w.rng.random() > 0.03 else w.country()[0],
                    user_agent=tool["user_agent"],
                    tls_ja4=tool["tls_ja4"],
                    payment_fingerprint=w.next_id("pay"),
                    api_keys=(w.next_id("key"),),
                    endpoints=eps,
                    traffic=Traffic(
                        categories=cats,
                        category_weights=tuple(float(x) for x in cat_w),
                        input_tokens=inp,
                        output_tokens=out,
                        max_tokens_choices=max_tok[int(w.rng.integers(len(max_tok)))],
                        at_max_share=float(w.rng.uniform(*at_max)),
                        thinking_share=float(w.rng.uniform(*thinking)),
                        tool_count_range=(0, int(w.rng.integers(3, 40))),
                        stream_share=float(w.rng.uniform(0.7, 1.0)),
                        rate_limited_share=0.01,
                        templates=(tool["template"],),
                        template_share=float(w.rng.uniform(lo_tpl, hi_tpl)),
                        simhash_bases=_simhash_bases(w, 1),
                        simhash_flips=(8, 24),
                        turn_index_max=int(w.rng.integers(5, 80)),
                    ),
                    ts_ms=ts,
                )
            )
    return plans


_HARD: dict[str, Callable[[World, HardNegativeSpec, str], list[AccountPlan]]] = {
    "corp_nat": _corp_nat,
    "university": _university,
    "cloud_app": _cloud_app,
    "ci_batch": _ci_batch,
    "agent_framework": _agent_framework,
    "release_burst": _release_burst,
    "eval_run": _eval_run,
    "enterprise_eval": _enterprise_eval,
    "university_class": _university_class,
    "popular_agent": _popular_agent,
}


def hard_negative_accounts(w: World) -> list[AccountPlan]:
    plans: list[AccountPlan] = []
    for spec in w.scenario.benign.hard_negatives:
        plans += _HARD[spec.kind](w, spec, spec.group or spec.kind)
    return plans
