"""Start, watch and stop ``hydrawatch worker`` processes (for the demo, tests, benchmarks)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from prometheus_client.parser import text_string_to_metric_families

from app.tools.broker import free_port

__all__ = ["WorkerProcess", "metric_value", "scrape_metrics"]


def scrape_metrics(url: str, *, timeout_s: float = 3.0) -> dict[str, float]:
    """``{"name{label=...}": value}`` of every sample on a Prometheus text endpoint."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def metric_value(samples: Mapping[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest for w in want):
            total += value
    return total


class WorkerProcess:
    """A ``python -m app worker`` subprocess with its own web and metrics ports.

    Its data directory (and log, unless ``log_path`` is given) live in a temporary
    directory that :meth:`stop` removes once the process has ended; the log's tail stays
    readable through :meth:`log_tail`.
    """

    def __init__(
        self,
        *,
        broker_url: str,
        app_id: str,
        env: Mapping[str, str] | None = None,
        metrics_port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.app_id = app_id
        self.metrics_port = metrics_port or free_port()
        self.web_port = free_port()
        self._tmp = tempfile.mkdtemp(prefix="hydrawatch-worker-")
        self.log_path = log_path or Path(self._tmp) / "worker.log"
        self._env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._final_log = b""

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self._env}
        env.setdefault("HYDRAWATCH_SESSION_TIMEOUT_S", "4")
        env.setdefault("HYDRAWATCH_HEARTBEAT_INTERVAL_S", "1")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "worker",
                "--broker",
                self.broker_url,
                "--app-id",
                self.app_id,
                "--metrics-host",
                "127.0.0.1",
                "--metrics-port",
                str(self.metrics_port),
                "--web-port",
                str(self.web_port),
                "--datadir",
                str(Path(self._tmp) / "data"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def metrics(self) -> dict[str, float]:
        return scrape_metrics(self.metrics_url)

    def wait_assigned(self, *, min_partitions: int = 1, timeout_s: float = 60.0) -> None:
        """Block until the worker reports at least ``min_partitions`` input partitions."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if metric_value(self.metrics(), "hydrawatch_assigned_partitions") >= min_partitions:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"worker got no partitions in {timeout_s}s:\n{self.log_tail()}")

    @property
    def tmp_dir(self) -> Path:
        """The worker's temporary directory (removed by :meth:`stop`)."""
        return Path(self._tmp)

    def log_tail(self, n_bytes: int = 6_000) -> str:
        data = self.log_path.read_bytes() if self.log_path.exists() else self._final_log
        return data[-n_bytes:].decode("utf-8", "replace")

    def _remove_tmp(self) -> None:
        if self.log_path.is_relative_to(self._tmp) and self.log_path.exists():
            self._final_log = self.log_path.read_bytes()[-64_000:]
        shutil.rmtree(self._tmp, ignore_errors=True)

    def stop(self, *, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit code.

        Removes the temporary directory once the process is gone (also when it never
        started or had already exited).
        """
        proc = self._proc
        if proc is None:
            self._remove_tmp()
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout_s)
        self._remove_tmp()
        return proc.returncode

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
