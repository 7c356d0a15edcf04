"""Trust through the stages, on hand-made cohorts: what age, org and history do to actions.

Every cohort below sends the same campaign-shaped traffic (harvest-like requests from one
cloud /24 billed in another country, one payment method, TLS fingerprint and template,
fired together every five minutes), so the campaign detector flags all of them, at
``critical`` once it has seen them for an hour (three families, 50 accounts); only who
the accounts are differs.
"""

from __future__ import annotations

from app.core.alerts.trust import TRUST_HISTORY, TRUST_NONE, TRUST_ORG
from app.core.events import AlertEvent, RequestEvent, validate_event
from app.core.events.alert import ACTIONS
from app.core.settings import DetectionSettings
from app.core.stages.account import AccountStage
from app.core.stages.local import LocalTopology
from app.core.windows.sliding import DAY_MS, HOUR_MS

T0 = 1_767_225_600_000
S = DetectionSettings()
MEMBERS = 50
ENFORCING = {"throttle", "block"}


HARVEST: dict[str, object] = {
    "category": "coding",
    "thinking": True,
    "tool_count": 2,
    "prompt_tokens": 2_000,
    "completion_tokens": 4_000,
    "max_tokens": 4_000,
}
CHAT: dict[str, object] = {"category": "chat", "prompt_tokens": 300, "completion_tokens": 200}
#: the cohort's infrastructure: one cloud /24 abroad, one payment method, client, template
SHARED: dict[str, object] = {
    "client_ip": "198.51.100.7",
    "ip_kind": "datacenter",
    "country": "US",
    "payment_fingerprint": "pay-1",
    "tls_ja4": "t13d1516h2",
    "user_agent": "evalsuite/2.1",
    "prompt_template_hash": "tpl-eval-1",
}


def request(
    i: int,
    account: str,
    ts: int,
    *,
    created_days: float,
    org_id: str | None = None,
    harvest: bool = True,
    home: int | None = None,
    ip_country: str | None = None,
) -> RequestEvent:
    """A harvest-like (or ordinary chat) request, on the cohort's shared infrastructure
    (its /24 in ``ip_country``, by default abroad) or (``home``) from the account's own
    residential address in its billing country."""
    where = (
        {**SHARED, **({"country": ip_country} if ip_country else {})}
        if home is None
        else {"client_ip": f"10.9.{home}.1", "ip_kind": "residential", "country": "DE"}
    )
    return validate_event(
        {
            "event_id": f"{account}-{i}",
            "ts_ms": ts,
            "account_id": account,
            "model": "frontier-1",
            "org_id": org_id,
            "account_created_ms": int(T0 - created_days * DAY_MS),
            "billing_country": "DE",
            **(HARVEST if harvest else CHAT),
            **where,
        }
    )


def cohort(
    prefix: str,
    *,
    created_days: float,
    org_id: str | None = None,
    orgs: int = 1,
    history: int = 0,
    history_harvest: bool = False,
) -> list[RequestEvent]:
    """50 accounts, 24 campaign-shaped requests each over 2 h from ``T0``, after
    ``history`` requests each of their own (chat, or harvest-like) in the 4 h before;
    with ``org_id``, the members are spread over ``orgs`` orgs of that prefix."""
    out = []
    for m in range(MEMBERS):
        account = f"{prefix}-{m:02d}"
        org = None if org_id is None else (org_id if orgs == 1 else f"{org_id}-{m % orgs}")
        for i in range(history):
            ts = T0 - 4 * HOUR_MS + i * (4 * HOUR_MS // history) + m
            out.append(
                request(i, account, ts, created_days=created_days, harvest=history_harvest, home=m)
            )
        for i in range(24):
            ts = T0 + i * 5 * 60_000 + m * 1_000
            out.append(request(history + i, account, ts, created_days=created_days, org_id=org))
    return sorted(out, key=lambda e: (e.ts_ms, e.event_id))


def members(events: list[RequestEvent], settings: DetectionSettings = S) -> list[AlertEvent]:
    """Campaign-member account alerts of one in-process run over ``events``."""
    topo = LocalTopology(settings, account_partitions=1)
    alerts = topo.run([(0, events[i : i + 500]) for i in range(0, len(events), 500)])
    found = [a for a in alerts if a.entity_type == "account" and a.campaign_id is not None]
    assert {a.entity_id for a in found} == {e.account_id for e in events}  # all flagged
    return found


def strongest(alerts: list[AlertEvent]) -> set[str]:
    """The strongest action each member got (as a set over members)."""
    best: dict[str, int] = {}
    for a in alerts:
        best[a.entity_id] = max(best.get(a.entity_id, 0), ACTIONS.index(a.action))
    return {ACTIONS[i] for i in best.values()}


def test_one_long_standing_orgs_shared_infrastructure_is_no_cohort() -> None:
    """An enterprise eval harness: one org's aged accounts share its payment method,
    templates and cloud egress — one customer, so no campaign at all."""
    events = cohort("acme", created_days=400, org_id="org-acme")
    topo = LocalTopology(S, account_partitions=1)
    alerts = topo.run([(0, events[i : i + 500]) for i in range(0, len(events), 500)])
    assert [a for a in alerts if a.campaign_id is not None] == []
    # the same accounts without their org are the campaign the other tests see
    assert members(cohort("acme", created_days=400))


def test_long_standing_org_accounts_are_never_throttled_or_blocked() -> None:
    """Aged accounts of many orgs behaving as one campaign: flagged, capped at verify."""
    alerts = members(cohort("acme", created_days=400, org_id="org-acme", orgs=50))
    assert all(a.action not in ENFORCING for a in alerts), {a.action for a in alerts}
    assert strongest(alerts) == {"verify"}  # critical → high, capped at verify
    for a in alerts:
        assert a.reasons[0].feature == "trust"
        assert "org account" in a.reasons[0].detail
        assert "verify" in a.reasons[0].detail


def test_a_young_campaign_with_no_org_gets_its_normal_action() -> None:
    alerts = members(cohort("hydra", created_days=2))
    assert strongest(alerts) == {"block"}
    assert all(r.feature != "trust" for a in alerts for r in a.reasons)


def test_an_org_id_on_young_accounts_earns_no_trust() -> None:
    alerts = members(cohort("fresh", created_days=5, org_id="org-fresh"))  # one young org
    assert strongest(alerts) == {"block"}
    assert all(r.feature != "trust" for a in alerts for r in a.reasons)


def test_bought_aged_accounts_with_a_harvest_like_history_are_not_trusted() -> None:
    """Age alone is no trust: accounts 400 days old that harvested before, from their own
    addresses, as much as the hijacked ones below chatted."""
    alerts = members(cohort("bought", created_days=400, history=40, history_harvest=True))
    assert strongest(alerts) == {"block"}
    assert all(r.feature != "trust" for a in alerts for r in a.reasons)


def test_aged_accounts_with_no_history_yet_are_not_trusted() -> None:
    alerts = members(cohort("fresh-bought", created_days=400))
    assert strongest(alerts) == {"block"}


def test_aged_accounts_with_a_normal_history_get_one_step_lower() -> None:
    """The same aged accounts with ordinary traffic of their own before: lowered, not
    capped (throttle is still enforcement; only org trust caps at verify)."""
    alerts = members(cohort("hijacked", created_days=400, history=40))
    assert strongest(alerts) == {"throttle"}  # critical → high
    assert "critical" not in {a.severity for a in alerts}
    assert all(a.reasons[0].feature == "trust" for a in alerts)


def test_trust_off_leaves_the_org_cohort_its_cluster_action() -> None:
    off = DetectionSettings(trust=False)
    alerts = members(cohort("acme", created_days=400, org_id="org-acme"), off)
    assert strongest(alerts) == {"block"}


def test_the_account_stage_levels() -> None:
    stage = AccountStage(S, partition=0, pivot_partitions=1)
    history = [
        request(i, "a", T0 - HOUR_MS + i * 60_000, created_days=400, harvest=False, home=1)
        for i in range(30)
    ]
    stage.process(history, emitted_ms=0)
    sums = stage.accounts["a"]
    probe = request(99, "a", T0, created_days=400)
    assert stage.trust_level(probe, sums) == TRUST_HISTORY
    assert stage.trust_level(request(99, "a", T0, created_days=30), sums) == TRUST_NONE
    org = request(99, "z", T0, created_days=S.trust_min_account_age_days + 1, org_id="org-1")
    assert stage.trust_level(org, sums) == TRUST_ORG
    # the same account after a day of nothing but harvest-like requests
    harvest = [
        request(100 + i, "a", T0 + i * 60_000, created_days=400) for i in range(3 * len(history))
    ]
    stage.process(harvest, emitted_ms=0)
    assert stage.trust_level(request(999, "a", T0 + 4 * HOUR_MS, created_days=400), sums) == 0
