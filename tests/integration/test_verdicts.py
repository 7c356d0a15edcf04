"""Verdicts end to end on a real broker: ``hydrawatch verdict`` writes to the compacted
topic, ``hydrawatch enforce`` hides what a benign verdict allows, audits it and
dead-letters a malformed record once; a worker's follower (re)reads them all at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.events import AlertEvent
from app.core.verdicts import VerdictBook
from app.enforce.store import EnforcementStore
from app.runtime.admin import ensure_topics
from app.runtime.verdicts import VerdictFollower
from app.tools.broker import BrokerHandle, free_port

pytestmark = pytest.mark.integration


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _alert(entity: str, action: str) -> AlertEvent:
    return AlertEvent(
        alert_id=f"al-{entity}",
        ts_ms=0,
        emitted_ms=int(time.time() * 1000),
        entity_type="account",
        entity_id=entity,
        campaign_id="cmp-it",
        severity="critical",
        score=0.9,
        detectors=["campaign_linkage"],
        reasons=[],
        window_start_ms=0,
        window_end_ms=1,
        evidence={},
        action=action,  # type: ignore[arg-type]
        action_ttl_s=3_600,
    )


def _get(port: int, path: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            doc: dict[str, Any] = json.loads(r.read())
            return doc
    except OSError:
        return None


def _records(bootstrap: str, topic: str) -> list[Any]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        out: list[Any] = []
        for _ in range(10):
            for recs in c.poll(timeout_ms=500).values():
                out += recs
        return out
    finally:
        c.close()


def test_verdicts_from_the_cli_to_enforcement_and_back_after_a_restart(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    tag = uuid.uuid4().hex[:8]
    alerts, verdicts, dlq = f"it-{tag}.alerts", f"it-{tag}.verdicts", f"it-{tag}.verdicts.dlq"
    ensure_topics(broker.bootstrap, [alerts, dlq], partitions=1)
    ensure_topics(broker.bootstrap, [verdicts], partitions=1, config={"cleanup.policy": "compact"})
    env = {
        "HYDRAWATCH_BROKER": broker.url,
        "HYDRAWATCH_ALERT_TOPIC": alerts,
        "HYDRAWATCH_VERDICT_TOPIC": verdicts,
        "HYDRAWATCH_VERDICT_DLQ_TOPIC": dlq,
        "HYDRAWATCH_SESSION_TIMEOUT_S": "4",
        "HYDRAWATCH_HEARTBEAT_INTERVAL_S": "1",
    }
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for entity, action in (("acct-1", "block"), ("acct-2", "throttle")):
        a = _alert(entity, action)
        producer.send(alerts, key=entity.encode(), value=a.model_dump_json().encode())
    producer.send(verdicts, key=b"org:x", value=b'{"subject_kind": "org", "prompt": "no"}')
    producer.flush()

    bad = _cli("verdict", "planet:mars", "--verdict", "benign", "--reason", "r", env=env)
    assert bad.returncode == 2 and "KIND:VALUE" in bad.stderr
    bad = _cli("verdict", "account:acct-1", "--verdict", "benign", env=env)
    assert bad.returncode == 2 and "--reason" in bad.stderr
    ok = _cli(
        "verdict", "account:acct-1", "--verdict", "benign", "--reason", "customer eval, T-7",
        "--analyst", "ana", "--expires-in", "2h", env=env,
    )  # fmt: skip
    assert ok.returncode == 0 and "benign verdict vd-" in ok.stderr, ok.stderr

    port = free_port()
    db = str(tmp_path / "e.db")
    # long enough for the group join on a loaded machine (the embedded broker holds
    # joins); stopped with SIGTERM as soon as it shows the list
    args = ["enforce", "--db", db, "--http-port", str(port), "--max-seconds", "90"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    active = shown = None
    deadline = time.monotonic() + 80
    while time.monotonic() < deadline and proc.poll() is None:
        active, shown = _get(port, "/active"), _get(port, "/verdicts")
        if active and active["entries"] and shown and shown["audit"]:
            break
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert active is not None and shown is not None, stderr
    assert [e["entity_id"] for e in active["entries"]] == ["acct-2"]  # acct-1 is allowed
    assert [v["subject"] for v in shown["verdicts"]] == ["acct-1"]
    entry = shown["audit"][0]
    assert (entry["analyst"], entry["change"], entry["reason"]) == (
        "ana",
        "issued",
        "customer eval, T-7",
    )
    assert "dead-lettered: 1" in stderr
    dead = _records(broker.bootstrap, dlq)
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert b"invalid verdict" in headers["hydrawatch-error"]

    # a restart re-reads the compacted topic: the verdict again, the bad record not re-sent
    again = _cli("enforce", "--db", db, "--max-seconds", "4", env=env)
    assert again.returncode == 0, again.stderr
    assert len(_records(broker.bootstrap, dlq)) == 1

    # a worker's follower, twice (a restart): every verdict, the invalid one refused
    for _ in range(2):
        follower = VerdictFollower(broker.bootstrap, verdicts).start()
        try:
            assert follower.wait_caught_up(30), follower.error
            book = VerdictBook()
            outcomes = [book.apply_record(k, v)[0] for k, v in follower.drain()]
        finally:
            follower.stop()
        assert sorted(outcomes) == ["invalid", "put"]
        assert book.benign("account", "acct-1", at_ms=int(time.time() * 1000)) is not None

    bad = _cli("verdict", "account:acct-1", "--withdraw", env=env)
    assert bad.returncode == 2 and "--reason" in bad.stderr  # a withdrawal is audited too
    gone = _cli(
        "verdict", "account:acct-1", "--withdraw", "--reason", "harness retired, T-9",
        "--analyst", "bo", env=env,
    )  # fmt: skip
    assert gone.returncode == 0 and "as bo" in gone.stderr, gone.stderr
    follower = VerdictFollower(broker.bootstrap, verdicts).start()
    try:
        assert follower.wait_caught_up(30)
        book = VerdictBook()
        for k, v in follower.drain():
            book.apply_record(k, v)
    finally:
        follower.stop()
    assert len(book) == 0  # the tombstone withdrew it

    # the enforcer applies the tombstone and audits who withdrew it, and why
    done = _cli("enforce", "--db", db, "--max-seconds", "6", env=env)
    assert done.returncode == 0, done.stderr
    store = EnforcementStore(db)
    try:
        last = store.audit()[0]
        assert store.verdicts(now_s=time.time()) == []
    finally:
        store.close()
    assert (last["change"], last["analyst"], last["reason"]) == (
        "withdrawn",
        "bo",
        "harness retired, T-9",
    )
