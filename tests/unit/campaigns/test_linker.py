"""Campaign linkage on hand-made populations."""

from __future__ import annotations

import itertools
import random

import pytest

from app.config import DetectionSettings
from app.engine import Engine
from app.events import AlertEvent, RequestEvent

T0 = 1_767_225_600_000
MIN = 60_000
DAY = 86_400_000


def req(n: int, account: str, ts: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": f"{account}-{n}",
        "ts_ms": ts,
        "account_id": account,
        "client_ip": "203.0.113.5",
        "model": "m",
        "prompt_tokens": 2000,
        "completion_tokens": 300,
        "category": "chat",
        "country": "US",
        "billing_country": "US",
        "account_created_ms": ts - 500 * DAY,
        "ip_kind": "residential",
    }
    base.update(kw)
    return base


def harvest(n: int, account: str, ts: int, **kw: object) -> dict[str, object]:
    return req(
        n,
        account,
        ts,
        category="coding",
        thinking=True,
        completion_tokens=8192,
        max_tokens=8192,
        tool_count=3,
        **kw,
    )


def run(events: list[dict[str, object]], chunk: int = 1_000) -> list[AlertEvent]:
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    evs = sorted((RequestEvent.model_validate(e) for e in events), key=lambda e: e.ts_ms)
    out: list[AlertEvent] = []
    for i in range(0, len(evs), chunk):
        out += eng.process(evs[i : i + chunk]).alerts
    return out + eng.flush().alerts


def ring(
    accounts: int,
    *,
    hours: int = 6,
    prefix: str = "x",
    start: int = T0,
    net: int = 51,
    created_days: float = 2,
    **kw: object,
) -> list[dict[str, object]]:
    """Young accounts sharing a payment method, proxies, billing elsewhere, every 20 min."""
    out = []
    for i in range(accounts):
        for k, minute in enumerate(range(i, hours * 60, 20)):
            ts = start + minute * MIN
            fields: dict[str, object] = {
                "payment_fingerprint": f"{prefix}-card",
                "account_created_ms": T0 - int(created_days * DAY),
                "client_ip": f"198.{net}.{100 + i % 3}.{i + 1}",
                "ip_kind": "proxy",
                "country": "BR",
                "billing_country": "SG",
            }
            fields.update(kw)
            out.append(harvest(k, f"{prefix}{i}", ts, **fields))
    return out


def test_ring_is_flagged_as_one_campaign_with_member_alerts() -> None:
    alerts = run(ring(8))
    campaigns = [a for a in alerts if a.entity_type == "campaign"]
    members = [a for a in alerts if a.entity_type == "account" and a.campaign_id]
    assert len({a.campaign_id for a in campaigns}) == 1
    cid = campaigns[0].campaign_id
    assert {a.entity_id for a in members} == {f"x{i}" for i in range(8)}
    assert all(a.campaign_id == cid for a in members)
    assert campaigns[0].evidence["accounts"] == 8
    assert campaigns[0].reasons and campaigns[0].severity in ("medium", "high", "critical")
    assert all(a.action in ("verify", "throttle", "block") and a.action_ttl_s > 0 for a in members)


def test_alert_ids_do_not_depend_on_batching() -> None:
    events = ring(8)
    ids = lambda alerts: sorted(a.alert_id for a in alerts)  # noqa: E731
    assert ids(run(events, chunk=7)) == ids(run(events, chunk=5_000))


def test_office_behind_nat_sharing_payment_is_not_a_campaign() -> None:
    events = []
    for i in range(30):
        for k in range(12):
            events.append(
                req(
                    k,
                    f"office{i}",
                    T0 + (i * 7 + k * 29) * MIN,
                    payment_fingerprint="corp-card",
                    org_id="corp",
                    client_ip="192.0.2.10",
                    category="coding",
                    thinking=True,
                )
            )
    assert [a for a in run(events) if a.entity_type in ("campaign", "account")] == []


def test_popular_agent_template_is_not_a_campaign() -> None:
    events = []
    for i in range(60):
        for k in range(10):
            events.append(
                req(
                    k,
                    f"dev{i}",
                    T0 + (i * 3 + k * 41) * MIN,
                    client_ip=f"203.0.{i}.7",
                    prompt_template_hash="agent-sys",
                    tls_ja4="ja4",
                    user_agent="agent/1",
                    category="agentic",
                    tool_count=9,
                    thinking=(k % 2 == 0),
                )
            )
    assert run(events) == []


def test_young_accounts_sharing_payment_but_not_harvesting_are_not_flagged() -> None:
    events = [
        {**e, "category": "chat", "thinking": False, "completion_tokens": 200, "tool_count": 0}
        for e in ring(10)
    ]
    assert run(events) == []


def test_late_joiner_gets_the_existing_campaign_id() -> None:
    events = ring(8) + ring(
        1, prefix="late", start=T0 + 4 * 3_600_000, payment_fingerprint="x-card"
    )
    alerts = run(events)
    cid = next(a.campaign_id for a in alerts if a.entity_type == "campaign")
    late = [a for a in alerts if a.entity_id == "late0"]
    assert late and late[0].campaign_id == cid


def test_two_separate_rings_are_two_campaigns() -> None:
    # Different cards, proxies and creation times: nothing links the two rings.
    alerts = run(ring(6, prefix="a") + ring(6, prefix="b", net=52, created_days=5))
    by_cid = {}
    for a in alerts:
        if a.entity_type == "account" and a.campaign_id:
            by_cid.setdefault(a.campaign_id, set()).add(a.entity_id[0])
    assert sorted(map(sorted, by_cid.values())) == [["a"], ["b"]]


def test_idle_state_expires() -> None:
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    evs = [RequestEvent.model_validate(e) for e in ring(8)]
    eng.process(evs)
    assert eng.linker.accounts and eng.linker.pivots
    later = RequestEvent.model_validate(req(0, "someone", T0 + 4 * DAY))
    eng.process([later])
    eng.process([RequestEvent.model_validate(req(1, "someone", T0 + 4 * DAY + 3_600_000))])
    assert set(eng.linker.accounts) == {"someone"}
    assert not any(k[0] == "payment" for k in eng.linker.pivots)


def test_pivot_memory_follows_sharing_not_traffic() -> None:
    events = [
        req(
            k,
            f"solo{i}",
            T0 + k * MIN,
            client_ip=f"10.{i // 250}.{i % 250}.1",
            payment_fingerprint=f"card{i}",
        )
        for i, k in itertools.product(range(300), range(3))
    ]
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    eng.process([RequestEvent.model_validate(e) for e in events])
    # 300 accounts with their own subnet and card: no shared pivot state at all.
    assert not [k for k in eng.linker.pivots if k[0] in ("payment", "subnet")]


def test_pivot_account_tracking_is_capped(monkeypatch: object) -> None:
    import app.campaigns.linker as linker_mod

    monkeypatch.setattr(linker_mod, "MAX_PIVOT_ACCOUNTS", 50)  # type: ignore[attr-defined]
    events = [
        req(0, f"u{i}", T0 + i * 1_000, tls_ja4="popular", user_agent="sdk") for i in range(400)
    ]
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    eng.process([RequestEvent.model_validate(e) for e in events])
    p = eng.linker.pivots[("tls", "popular|sdk")]
    assert len(p.accounts) == 50
    assert 330 <= p.distinct_accounts <= 470  # the rest counted by the HyperLogLog


def test_entity_models_learn_hourly_window_summaries() -> None:
    events = []
    for i in range(40):
        for k in range(30):
            events.append(
                req(
                    k,
                    f"n{i}",
                    T0 + (i * 13 + k * 23) * MIN,
                    client_ip=f"192.0.{i % 8}.{i + 2}",
                    asn=64_500 + i % 4,
                )
            )
    eng = Engine(DetectionSettings(), clock=lambda: 0)
    eng.process([RequestEvent.model_validate(e) for e in events])
    models = eng.linker.entity_models
    assert models["subnet"].windows_learned > 0 and models["asn"].windows_learned > 0


@pytest.mark.parametrize(("accounts", "max_pivots"), [(14, None), (60, 100)])
def test_kept_contributions_equal_a_re_read_of_the_records(
    accounts: int, max_pivots: int | None
) -> None:
    """Member contributions are kept up to date incrementally (requests, new candidate
    pivots, records restarting after a day away, records expiring, whole pivots
    expiring; with a low cap, pivots evicted and created again): after every batch each
    kept one equals what the records say."""
    rng = random.Random(11)
    events = []
    for i in range(accounts):
        t = T0 + rng.randrange(3 * 3600) * 1000
        for k in range(120):
            # bursts with long silences: records restart and expire while the account
            # stays active on its other pivots; it hops between proxies and cards
            t += rng.choice([20 * MIN, 20 * MIN, 40 * MIN, 9 * 3600_000, DAY + 5 * MIN])
            events.append(
                harvest(
                    k,
                    f"x{i}",
                    t,
                    payment_fingerprint=f"card-{rng.randrange(3)}",
                    account_created_ms=T0 - 2 * DAY,
                    client_ip=f"198.51.{rng.randrange(3)}.{i + 1}",
                    ip_kind="proxy",
                    country="BR",
                    billing_country="SG",
                    # a pool of prompts: hundreds of shared simhash-band pivots
                    prompt_simhash=f"{rng.randrange(300) * 0x9E3779B97F4A7C15 % 2**64:016x}",
                )
            )
    caps = {} if max_pivots is None else {"max_pivots": max_pivots}
    eng = Engine(DetectionSettings(**caps), clock=lambda: 0)
    evs = sorted((RequestEvent.model_validate(e) for e in events), key=lambda e: e.ts_ms)
    linker = eng.linker
    checked = 0
    for i in range(0, len(evs), 40):
        eng.process(evs[i : i + 40])
        for account, kept in linker._contrib.items():
            assert kept == linker._read_contribution(account), account
            checked += 1
    assert checked > 300  # contributions were kept, and compared, along the way
