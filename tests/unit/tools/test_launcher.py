"""``WorkerProcess``: a real ``hydrawatch worker`` subprocess, and what it leaves behind."""

from __future__ import annotations

import time

from app.tools.broker import free_port
from app.tools.launcher import WorkerProcess


def test_stop_removes_the_temporary_directory_and_keeps_the_log_tail() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens: the worker gives up fast
    w = WorkerProcess(
        broker_url=f"kafka://{bootstrap}",
        app_id="launcher-test",
        env={"HYDRAWATCH_CONNECT_TIMEOUT_S": "0.5"},
    )
    assert w.tmp_dir.is_dir()
    w.start()
    deadline = time.monotonic() + 20
    while w.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not w.alive(), "a worker with no broker must exit"
    assert w.stop() == 1
    assert not w.tmp_dir.exists(), "stop() leaves the worker's temporary directory behind"
    assert f"no Kafka broker answered at {bootstrap}" in w.log_tail()


def test_stop_of_a_worker_never_started_removes_its_directory() -> None:
    w = WorkerProcess(broker_url="kafka://127.0.0.1:1", app_id="never")
    assert w.tmp_dir.is_dir()
    assert w.stop() is None
    assert not w.tmp_dir.exists()
