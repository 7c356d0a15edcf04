from __future__ import annotations

import os
import time

import pytest

from app.runtime.admin import BrokerUnreachable, ensure_topics, wait_for_broker
from app.tools.broker import TansuBroker, free_port

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
    bootstrap = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    with pytest.raises(BrokerUnreachable) as info:
        wait_for_broker(bootstrap, timeout_s=0.5)
    assert time.monotonic() - t0 < 2
    assert str(info.value) == (
        f"no Kafka broker answered at {bootstrap} within 0.5s "
        "(TCP connect failed: Connection refused)"
    )
    assert isinstance(info.value, TimeoutError)
