from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "schemas" / "examples" / "request_events.jsonl"


def event_dict(**overrides: object) -> dict[str, object]:
    """A valid RequestEvent v1 dict."""
    base: dict[str, object] = {
        "event_id": "e-1",
        "ts_ms": 1_767_225_600_000,
        "account_id": "acct-1",
        "client_ip": "203.0.113.7",
        "model": "frontier-1",
        "prompt_tokens": 900,
        "completion_tokens": 300,
    }
    base.update(overrides)
    return base


@pytest.fixture
def make_event() -> object:
    return event_dict
