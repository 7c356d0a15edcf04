from __future__ import annotations

from app.core.alerts.dedup import Deduper


def test_cooldown_and_escalation() -> None:
    d = Deduper(cooldown_ms=100)
    k = ("account", "a")
    assert d.admit(k, "low", ts_ms=0)
    assert not d.admit(k, "low", ts_ms=50)
    assert d.admit(k, "high", ts_ms=60)  # escalation
    assert not d.admit(k, "medium", ts_ms=120)  # cooldown restarted at 60
    assert d.admit(k, "medium", ts_ms=160)
    assert d.suppressed == 2


def test_expire_bounds_memory() -> None:
    d = Deduper(cooldown_ms=100)
    for i in range(50):
        d.admit(("account", str(i)), "low", ts_ms=i)
    assert d.expire(now_ms=120) == 21  # ts 0..20
    assert len(d) == 29
