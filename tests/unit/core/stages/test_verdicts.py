"""Verdicts through the stages, on the hand-made cohorts of ``test_trust``: a benign
verdict stops enforcing alerts within one tick and its expiry restores them; a critical
campaign's indicators link the heads it grows a day later to its ``campaign_id``."""

from __future__ import annotations

import msgspec.structs

from app.core.events import AlertEvent, RequestEvent
from app.core.settings import DetectionSettings
from app.core.stages.local import LocalTopology
from app.core.verdicts import Verdict, VerdictBook
from app.core.windows.sliding import HOUR_MS
from tests.unit.core.stages.test_trust import ENFORCING, SHARED, T0, cohort, request

S = DetectionSettings()
TICK = S.linkage_tick_ms


def run(
    events: list[RequestEvent], *verdicts: Verdict, settings: DetectionSettings = S
) -> list[AlertEvent]:
    topo = LocalTopology(settings, account_partitions=2, verdicts=VerdictBook(verdicts))
    by_p: list[tuple[int, list[RequestEvent]]] = []
    for i in range(0, len(events), 300):
        chunk = events[i : i + 300]
        for p in (0, 1):
            by_p.append((p, [e for e in chunk if hash(e.account_id) % 2 == p]))
    return topo.run(by_p)


def benign(kind: str, subject: str, *, at_ms: int, until_ms: int | None = None) -> Verdict:
    return Verdict(
        subject_kind=kind,  # type: ignore[arg-type]
        subject=subject,
        verdict="benign",
        reason="customer eval harness, ticket T-42",
        analyst="ana",
        issued_ms=at_ms,
        expires_ms=until_ms,
    )


def on_accounts(alerts: list[AlertEvent], prefix: str) -> list[AlertEvent]:
    return [a for a in alerts if a.entity_type == "account" and a.entity_id.startswith(prefix)]


def test_a_benign_org_verdict_stops_enforcement_within_one_tick() -> None:
    events = cohort("fresh", created_days=5, org_id="org-fresh")  # young org: blocked
    before = run(events)
    assert any(a.action in ENFORCING for a in on_accounts(before, "fresh"))
    issued = T0 + HOUR_MS
    alerts = run(events, benign("org", "org-fresh", at_ms=issued))
    mine = on_accounts(alerts, "fresh")
    late = [a for a in mine if a.ts_ms >= issued + TICK]
    assert late and all(a.action not in ENFORCING for a in late)
    # every member enforced before the verdict is released (verdict_id) after it
    enforced = {a.entity_id for a in mine if a.action in ENFORCING}
    released = {a.entity_id for a in mine if a.verdict_id is not None}
    assert enforced and enforced <= released
    for a in mine:
        if a.verdict_id is not None:
            assert a.action == "observe" and a.reasons[0].feature == "verdict"
            assert issued <= a.ts_ms <= issued + 2 * TICK or a.ts_ms > issued
    campaigns = [a for a in alerts if a.entity_type == "campaign" and a.ts_ms >= issued + TICK]
    assert all(a.action not in ENFORCING for a in campaigns)


def test_an_expired_verdict_restores_detection() -> None:
    events = cohort("fresh", created_days=5, org_id="org-fresh")
    issued, until = T0 - HOUR_MS, T0 + HOUR_MS
    alerts = run(events, benign("org", "org-fresh", at_ms=issued, until_ms=until))
    mine = on_accounts(alerts, "fresh")
    assert mine and all(a.action not in ENFORCING for a in mine if a.ts_ms < until)
    after = [a for a in mine if a.ts_ms >= until]
    assert after and any(a.action in ENFORCING for a in after)


def test_benign_account_and_campaign_verdicts() -> None:
    events = cohort("hydra", created_days=2)
    plain = run(events)
    cid = next(a.campaign_id for a in plain if a.entity_type == "campaign")
    assert cid is not None
    alerts = run(events, benign("campaign", cid, at_ms=T0 - HOUR_MS))
    assert [a for a in alerts if a.action in ENFORCING] == []
    assert sum(a.verdict_id is not None for a in alerts) >= 50
    one = run(events, benign("account", "hydra-07", at_ms=T0 - HOUR_MS))
    assert all(a.action not in ENFORCING for a in on_accounts(one, "hydra-07"))
    assert any(a.action in ENFORCING for a in on_accounts(one, "hydra-08"))


def test_a_benign_indicator_is_no_pivot_for_linking() -> None:
    events = cohort("hydra", created_days=2)
    keys = ("payment", "tls", "template", "subnet")
    values = (
        SHARED["payment_fingerprint"],
        f"{SHARED['tls_ja4']}|{SHARED['user_agent']}",
        SHARED["prompt_template_hash"],
        "198.51.100.0/24",
    )
    verdicts = [benign(k, str(v), at_ms=T0 - HOUR_MS) for k, v in zip(keys, values, strict=True)]
    alerts = run(events, *verdicts)
    assert [a for a in alerts if a.campaign_id is not None] == []


def heads(prefix: str, start_ms: int, n: int = 5) -> list[RequestEvent]:
    """``n`` fresh accounts on the campaign's infrastructure, a few requests each."""
    out = [
        request(100 + i, f"{prefix}-{m}", start_ms + i * 5 * 60_000 + m * 1_000, created_days=0.1)
        for m in range(n)
        for i in range(6)
    ]
    return sorted(out, key=lambda e: (e.ts_ms, e.event_id))


def test_heads_grown_a_day_later_join_the_campaign_at_their_first_tick() -> None:
    """The cohort is banned and gone; 30 h later five new accounts reuse its payment,
    TLS, template and subnet: linked to the same campaign_id at their first tick (the
    cohort's 24 h views have expired by then, so only the memory knows it)."""
    first = cohort("hydra", created_days=2)
    start = T0 + 30 * HOUR_MS
    later = heads("head", start)
    alerts = run(first + later)
    cid = next(a.campaign_id for a in alerts if a.entity_type == "campaign")
    got = {a.entity_id: a for a in on_accounts(alerts, "head-")}
    assert set(got) == {f"head-{m}" for m in range(5)}
    for a in got.values():
        assert a.campaign_id == cid
        assert a.ts_ms - start <= 2 * TICK  # at the first ticks after its first request
        assert a.action in ENFORCING
    assert any(r.feature == "remembered_indicators" for a in got.values() for r in a.reasons)
    # without the memory, the five heads are at best a new campaign of their own
    forgetful = S.model_copy(update={"indicator_memory_ttl_ms": 0})
    alone = on_accounts(run(first + later, settings=forgetful), "head-")
    assert cid not in {a.campaign_id for a in alone}


def test_remembered_heads_of_an_allowed_org_are_not_enforced() -> None:
    first = cohort("hydra", created_days=2)
    later = [msgspec.structs.replace(e, org_id="org-new") for e in heads("head", T0 + 30 * HOUR_MS)]
    alerts = run(first + later, benign("org", "org-new", at_ms=T0))
    assert all(a.action not in ENFORCING for a in on_accounts(alerts, "head-"))
