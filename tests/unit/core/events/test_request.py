from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.events.request import RequestEvent, subnet_of
from tests.conftest import event_dict


def test_minimal_event_gets_defaults() -> None:
    e = RequestEvent.model_validate(event_dict())
    assert e.status == 200
    assert e.org_id is None
    assert e.subnet == "203.0.113.0/24"


def test_null_status_means_200() -> None:
    assert RequestEvent.model_validate(event_dict(status=None)).status == 200


def test_unknown_and_raw_text_fields_are_not_stored() -> None:
    e = RequestEvent.model_validate(event_dict(prompt="secret text", extra_field=1))
    dumped = e.model_dump_json()
    assert "secret" not in dumped
    assert "extra_field" not in dumped


def test_ipv6_normalised_and_subnet_48() -> None:
    e = RequestEvent.model_validate(event_dict(client_ip="2001:DB8:0001:0002:0:0:0:1"))
    assert e.client_ip == "2001:db8:1:2::1"
    assert e.subnet == "2001:db8:1::/48"
    assert subnet_of("10.1.2.3") == "10.1.2.0/24"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts_ms", 1.5),
        ("ts_ms", "1767225600000"),
        ("ts_ms", 10),  # 1970: not a plausible event time
        ("ts_ms", 5_000_000_000_000),  # after 2100
        ("prompt_tokens", -1),
        ("prompt_tokens", 10**12),
        ("completion_tokens", True),
        ("client_ip", "300.1.2.3"),
        ("client_ip", "not-an-ip"),
        ("account_id", ""),
        ("account_id", "x" * 129),
        ("ip_kind", "spaceship"),
        ("category", "poetry"),
        ("country", "usa"),
        ("prompt_simhash", "xyz"),
        ("status", 42),
        ("thinking", "yes"),
    ],
)
def test_invalid_values_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        RequestEvent.model_validate(event_dict(**{field: value}))


@pytest.mark.parametrize(
    "missing",
    ["event_id", "ts_ms", "account_id", "client_ip", "model", "prompt_tokens", "completion_tokens"],
)
def test_required_fields(missing: str) -> None:
    d = event_dict()
    del d[missing]
    with pytest.raises(ValidationError):
        RequestEvent.model_validate(d)


def test_optional_fields_accept_null() -> None:
    optional = [
        "org_id",
        "api_key_id",
        "account_created_ms",
        "asn",
        "ip_kind",
        "country",
        "billing_country",
        "user_agent",
        "tls_ja4",
        "payment_fingerprint",
        "endpoint",
        "latency_ms",
        "max_tokens",
        "stream",
        "tool_count",
        "thinking",
        "prompt_template_hash",
        "prompt_simhash",
        "category",
        "language",
        "turn_index",
    ]
    e = RequestEvent.model_validate(event_dict(**dict.fromkeys(optional)))
    assert all(getattr(e, f) is None for f in optional)
