"""Where the console writes verdicts: a small interface, Kafka behind it, a fake for tests.

:class:`KafkaVerdictSink` writes one record per verdict with
:func:`app.runtime.verdicts.publish_verdict` (the function ``hydrawatch verdict`` uses),
to the compacted verdicts topic (``hydrawatch console --allow-verdicts`` checks that it
exists before it serves: the worker creates it compacted, an auto-created one would not
be). :class:`MemoryVerdictSink` keeps what it
was given and, given a store, delivers it there as the topic would (the way httpx's
``MockTransport`` stands in for the network).

>>> from app.tools.console.store import AlertStore
>>> from app.core.verdicts import Withdrawal
>>> from app.tools.console.verdicts import build_verdict
>>> store = AlertStore()
>>> sink = MemoryVerdictSink(store)
>>> v = build_verdict(kind="campaign", subject="cmp-1", decision="confirmed",
...     reason="T-9", expires="none", analyst="ana", now_ms=5)
>>> sink.publish(v), sink.withdraw(v.key, Withdrawal(analyst="bo", reason="T-10"))
((0, 0), (0, 1))
>>> [(k, r is None) for k, r in sink.records], store.snapshot().verdict_records
([('campaign:cmp-1', False), ('campaign:cmp-1', True)], 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from app.core.verdicts import Verdict, Withdrawal

if TYPE_CHECKING:
    from app.tools.console.store import AlertStore

__all__ = ["KafkaVerdictSink", "MemoryVerdictSink", "VerdictSink"]


class VerdictSink(Protocol):
    """Writes verdicts; each call returns the record's ``(partition, offset)`` once it is
    stored, and raises when it could not be."""

    #: where the records go, for people (a topic name)
    topic: str

    def publish(self, verdict: Verdict) -> tuple[int, int]: ...

    def withdraw(self, key: str, by: Withdrawal) -> tuple[int, int]: ...


class KafkaVerdictSink:
    """The verdicts topic on a Kafka broker (acks=all, one producer per record: an
    analyst writes a few a day)."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        client_kwargs: Mapping[str, Any] | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._kwargs: dict[str, Any] = {
            **dict(client_kwargs or {}),
            # an unreachable broker fails the form within the timeout (not 60 s)
            "max_block_ms": int(timeout_s * 1000),
        }

    def publish(self, verdict: Verdict) -> tuple[int, int]:
        return self._send(verdict=verdict)

    def withdraw(self, key: str, by: Withdrawal) -> tuple[int, int]:
        return self._send(withdraw_key=key, withdrawal=by)

    def _send(self, **record: Any) -> tuple[int, int]:
        from app.runtime.verdicts import publish_verdict

        return publish_verdict(
            self.bootstrap,
            self.topic,
            client_kwargs=self._kwargs,
            timeout_s=self.timeout_s,
            **record,
        )


class MemoryVerdictSink:
    """Keeps ``(key, verdict or None for a tombstone)`` in :attr:`records`; with ``store``,
    also delivers each to it as the reader would; with ``error``, raises it instead."""

    def __init__(
        self,
        store: AlertStore | None = None,
        *,
        topic: str = "memory.verdicts",
        error: Exception | None = None,
    ) -> None:
        self.store = store
        self.topic = topic
        self.error = error
        self.records: list[tuple[str, Verdict | None]] = []
        #: who withdrew what (the tombstones' headers)
        self.withdrawals: list[tuple[str, Withdrawal]] = []

    def publish(self, verdict: Verdict) -> tuple[int, int]:
        return self._put(verdict.key, verdict)

    def withdraw(self, key: str, by: Withdrawal) -> tuple[int, int]:
        return self._put(key, None, by)

    def _put(
        self, key: str, verdict: Verdict | None, by: Withdrawal | None = None
    ) -> tuple[int, int]:
        if self.error is not None:
            raise self.error
        self.records.append((key, verdict))
        if by is not None:
            self.withdrawals.append((key, by))
        if self.store is not None:
            self.store.add_verdict(key, verdict, withdrawal=by)
        return 0, len(self.records) - 1
