from __future__ import annotations

import os

import pytest

from app.broker import TansuBroker, ensure_topics, free_port, wait_for_broker

pytestmark = pytest.mark.integration


def test_tansu_starts_creates_topics_and_stops() -> None:
    broker = TansuBroker().start()
    pid = broker.pid
    try:
        assert pid is not None
        wait_for_broker(broker.bootstrap, timeout_s=5)
        assert ensure_topics(broker.bootstrap, ["t1", "t2"], partitions=2) == ["t1", "t2"]
        assert ensure_topics(broker.bootstrap, ["t1"], partitions=2) == []
    finally:
        broker.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_wait_for_broker_times_out_clearly() -> None:
    with pytest.raises(TimeoutError, match="not ready"):
        wait_for_broker(f"127.0.0.1:{free_port()}", timeout_s=0.5)
