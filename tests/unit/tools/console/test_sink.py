"""The verdict sinks: the fake delivers like the topic, the Kafka one calls publish_verdict."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.verdicts import Withdrawal
from app.tools.console.sink import KafkaVerdictSink, MemoryVerdictSink, VerdictSink
from app.tools.console.store import AlertStore
from app.tools.console.verdicts import build_verdict

V = build_verdict(
    kind="campaign",
    subject="cmp-1",
    decision="benign",
    reason="T-1",
    expires="1d",
    analyst="ana",
    now_ms=1_000,
)

BY = Withdrawal(analyst="bo", reason="harness retired, T-9")


def test_memory_sink_records_and_delivers_like_the_topic() -> None:
    store = AlertStore()
    sink: VerdictSink = MemoryVerdictSink(store)
    assert sink.publish(V) == (0, 0)
    assert store.snapshot().verdicts == {V.key: V}
    assert sink.withdraw(V.key, BY) == (0, 1)
    snap = store.snapshot()
    assert snap.verdicts == {} and snap.verdict_history[-1].withdrawal == BY
    assert isinstance(sink, MemoryVerdictSink) and sink.records == [(V.key, V), (V.key, None)]
    assert sink.withdrawals == [(V.key, BY)]
    failing = MemoryVerdictSink(store, error=TimeoutError("broker"))
    with pytest.raises(TimeoutError):
        failing.publish(V)
    assert failing.records == [] and store.snapshot().verdict_records == 2


def test_kafka_sink_writes_with_publish_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_publish(bootstrap: str, topic: str, **kw: Any) -> tuple[int, int]:
        calls.append({"bootstrap": bootstrap, "topic": topic, **kw})
        return 0, len(calls)

    monkeypatch.setattr("app.runtime.verdicts.publish_verdict", fake_publish)
    sink = KafkaVerdictSink(
        bootstrap="k:9092", topic="t.verdicts", client_kwargs={"security_protocol": "SSL"}
    )
    assert sink.publish(V) == (0, 1)
    assert sink.withdraw(V.key, BY) == (0, 2)
    first, second = calls
    assert (first["bootstrap"], first["topic"], first["verdict"]) == ("k:9092", "t.verdicts", V)
    assert second["withdraw_key"] == V.key and "verdict" not in second
    assert second["withdrawal"] == BY
    kw = first["client_kwargs"]
    assert kw["security_protocol"] == "SSL" and kw["max_block_ms"] == 15_000
