"""What the console has read: alerts (deduplicated by ``alert_id``), the link index and
the verdicts.

A reader thread adds to an :class:`AlertStore`; every page is built from one
:class:`Snapshot` of it, so a page never sees half an update. The web layer depends on
the :class:`ConsoleSource` protocol only: the store fed by the Kafka reader in
production, a store filled from a list in tests.

>>> from app.core.events import AlertEvent
>>> store = AlertStore()
>>> a = AlertEvent(alert_id="x", ts_ms=0, emitted_ms=0, entity_type="account",
...     entity_id="a", severity="low", score=0.5, detectors=["d"], reasons=[],
...     window_start_ms=0, window_end_ms=1, evidence={}, action="observe", action_ttl_s=0)
>>> store.add(a), store.add(a), store.add_raw(b"{not json"), len(store.snapshot().alerts)
(True, False, False, 1)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from app.core.events import AlertEvent
from app.core.stages.records import LinkInput
from app.core.verdicts import Verdict, Withdrawal
from app.tools.console.links import LinkIndex
from app.tools.console.verdicts import VerdictEntry, VerdictLog

__all__ = ["AlertStore", "ConsoleSource", "Snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a page is built from, at one instant."""

    #: in the order they were read (deduplicated by ``alert_id``)
    alerts: tuple[AlertEvent, ...]
    #: account → pivot key → the account's requests on it (live member links)
    links: Mapping[str, Mapping[str, int]]
    #: messages of the alert topic that were not AlertEvent v1
    invalid: int = 0
    #: link records read (0: the links topic was not read, or is empty)
    link_records: int = 0
    #: alerts dropped, oldest first, past the store's bound
    evicted: int = 0
    #: subject key → its newest verdict (withdrawn ones gone), expired ones included
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    #: every record of the verdicts topic read, in order (bounded)
    verdict_history: tuple[VerdictEntry, ...] = ()
    #: records of the verdicts topic read (tombstones included)
    verdict_records: int = 0
    #: records of the verdicts topic that were not verdicts (counted, ignored)
    verdicts_invalid: int = 0


class ConsoleSource(Protocol):
    def snapshot(self) -> Snapshot: ...


class AlertStore:
    """Thread-safe, bounded: past ``max_alerts`` the oldest alerts are forgotten."""

    def __init__(self, *, max_alerts: int = 500_000) -> None:
        if max_alerts < 1:
            raise ValueError("max_alerts must be >= 1")
        self.max_alerts = max_alerts
        self._lock = threading.Lock()
        self._alerts: deque[AlertEvent] = deque()
        self._ids: set[str] = set()
        self._links = LinkIndex()
        self._verdicts = VerdictLog()
        self._verdicts_invalid = 0
        self._invalid = 0
        self._evicted = 0
        self._snapshot: Snapshot | None = None

    def add(self, alert: AlertEvent) -> bool:
        """Keep the alert unless its ``alert_id`` was seen; True if kept."""
        with self._lock:
            if alert.alert_id in self._ids:
                return False
            self._ids.add(alert.alert_id)
            self._alerts.append(alert)
            while len(self._alerts) > self.max_alerts:
                self._ids.discard(self._alerts.popleft().alert_id)
                self._evicted += 1
            self._snapshot = None
            return True

    def add_all(self, alerts: Iterable[AlertEvent]) -> int:
        return sum(self.add(a) for a in alerts)

    def add_raw(self, raw: bytes | None) -> bool:
        """One message value of the alert topic; not an AlertEvent v1 → counted as invalid."""
        try:
            alert = AlertEvent.model_validate_json(raw or b"")
        except ValidationError:
            with self._lock:
                self._invalid += 1
                self._snapshot = None
            return False
        return self.add(alert)

    def add_links(self, rec: LinkInput) -> None:
        with self._lock:
            self._links.apply(rec)
            self._snapshot = None

    def add_links_raw(self, raw: bytes | None) -> bool:
        """One message value of the links topic; False if it could not be decoded."""
        with self._lock:
            try:
                self._links.apply_raw(raw or b"")
            except (ValueError, TypeError):
                self._invalid += 1
                return False
            finally:
                self._snapshot = None
            return True

    def add_verdict(
        self,
        key: str,
        verdict: Verdict | None,
        *,
        ts_ms: int | None = None,
        withdrawal: Withdrawal | None = None,
    ) -> None:
        """A verdict, or a tombstone (``None``) withdrawing ``key``'s."""
        with self._lock:
            self._verdicts.apply(key, verdict, ts_ms=ts_ms, withdrawal=withdrawal)
            self._snapshot = None

    def add_verdict_raw(
        self,
        key: bytes | None,
        value: bytes | None,
        *,
        ts_ms: int | None = None,
        headers: Iterable[tuple[str, bytes | None]] | None = None,
    ) -> bool:
        """One record of the verdicts topic; False (counted) if it is not a verdict."""
        with self._lock:
            try:
                self._verdicts.apply_raw(key, value, ts_ms=ts_ms, headers=headers)
            except ValueError:
                self._verdicts_invalid += 1
                return False
            finally:
                self._snapshot = None
            return True

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = Snapshot(
                    alerts=tuple(self._alerts),
                    links=self._links.copy(),
                    invalid=self._invalid,
                    link_records=self._links.records,
                    evicted=self._evicted,
                    verdicts=dict(self._verdicts.current),
                    verdict_history=tuple(self._verdicts.history),
                    verdict_records=self._verdicts.records,
                    verdicts_invalid=self._verdicts_invalid,
                )
            return self._snapshot
