"""Fixtures shared by the fault-injection tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.tools.simulate.basic import generate_basic
from tests.reliability.helpers import (
    TRAFFIC,
    closed_traffic,
    offline_reference,
    per_partition_messages,
)


@dataclass(frozen=True)
class OfflineReference:
    """TRAFFIC with closing sentinels, and what ``hydrawatch detect`` makes of it."""

    #: the events in input order (per partition: time order, sentinels last)
    events: list[dict[str, Any]]
    #: alerts up to this event time are comparable between online and offline runs
    until_ms: int
    #: alert ids of the offline run up to ``until_ms``
    ids: frozenset[str]
    #: requests its account stages applied up to ``until_ms`` (each applied
    #: event once)
    requests: int
    #: input partition → its number of messages (events produced BATCH to a message)
    per_part: dict[int, int]

    @property
    def messages(self) -> int:
        return sum(self.per_part.values())


@pytest.fixture(scope="session")
def offline(tmp_path_factory: pytest.TempPathFactory) -> OfflineReference:
    """Computed once per session (about 6 s) for every test that compares with it."""
    events, until = closed_traffic(generate_basic(TRAFFIC))
    path = tmp_path_factory.mktemp("offline") / "events.jsonl"
    ids, requests = offline_reference(events, path, until_ms=until)
    assert len(ids) >= 5, "the reference run must alert for the comparison to mean anything"
    return OfflineReference(events, until, frozenset(ids), requests, per_partition_messages(events))
