from __future__ import annotations

import json

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.core.events.decode import decode_message
from app.core.events.request import (
    RequestEvent,
    RequestEventContract,
    decode_events,
    decode_known,
    event_json,
    subnet_of,
    validate_event,
)
from tests.conftest import event_dict


def test_minimal_event_gets_defaults() -> None:
    e = validate_event(event_dict())
    assert e.status == 200
    assert e.org_id is None
    assert e.subnet == "203.0.113.0/24"


def test_null_status_means_200() -> None:
    assert validate_event(event_dict(status=None)).status == 200


def test_unknown_and_raw_text_fields_are_not_stored() -> None:
    e = validate_event(event_dict(prompt="secret text", extra_field=1))
    dumped = msgspec.json.encode(e).decode()
    assert "secret" not in dumped
    assert "extra_field" not in dumped


def test_ipv6_normalised_and_subnet_48() -> None:
    e = validate_event(event_dict(client_ip="2001:DB8:0001:0002:0:0:0:1"))
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
        validate_event(event_dict(**{field: value}))


@pytest.mark.parametrize(
    "missing",
    ["event_id", "ts_ms", "account_id", "client_ip", "model", "prompt_tokens", "completion_tokens"],
)
def test_required_fields(missing: str) -> None:
    d = event_dict()
    del d[missing]
    with pytest.raises(ValidationError):
        validate_event(d)


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
    e = validate_event(event_dict(**dict.fromkeys(optional)))
    assert all(getattr(e, f) is None for f in optional)


# ---- the compiled fast path against the contract ----

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_PADDED = st.builds(
    lambda pre, body, post: pre + body + post,
    st.sampled_from(["", " ", "\t", "\u00a0", "\u2003"]),
    _TEXT,
    st.sampled_from(["", " ", "\n", "\u3000"]),
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 99, 100, 200, 599, 600, 10_000_000, 10_000_001, 4_294_967_296]),
    st.sampled_from([1_767_225_600_000, 946_684_799_999, 4_102_444_800_001, 1.0, 1.5]),
    _PADDED,
    st.sampled_from(
        [
            "x" * 128,
            "x" * 129,
            "x" * 256,
            "x" * 257,
            "US",
            "us",
            " US",
            "4ea8f51552c018f0",
            "4EA8F51552C018F0",
            "4ea8f51552c018f",
            "coding",
            " coding",
            "Coding",
            "datacenter",
            "203.0.113.7",
            "203.0.113.07",
            " 203.0.113.7",
            "203.0.113.7\n",
            "203.0.113.7 ",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "2001:DB8::1",
            "::ffff:1.2.3.4",
            "not-an-ip",
        ]
    ),
)
_NAMES = st.sampled_from(list(RequestEventContract.model_fields))


def _contract(obj: dict[str, object]) -> RequestEvent | None:
    try:
        return validate_event(obj)
    except ValidationError:
        return None


@settings(max_examples=600, deadline=None)
@given(st.lists(st.dictionaries(_NAMES, _VALUES, max_size=4), min_size=1, max_size=3))
def test_fast_path_is_never_more_permissive_and_gives_the_contracts_values(
    changes: list[dict[str, object]],
) -> None:
    """``decode_events`` accepts a message only if the contract accepts every element,
    with equal values; ``decode_message`` (fast path or not) keeps exactly the elements
    the contract accepts."""
    objs = [event_dict(**{"event_id": f"e-{i}", **c}) for i, c in enumerate(changes)]
    raw = json.dumps(objs, ensure_ascii=False).encode()  # integers beyond 64 bits too
    expected = [_contract(o) for o in objs]
    fast = decode_events(raw)
    if fast is not None:
        assert fast == expected
    known = decode_known(raw)
    if known is not None:
        assert known == expected
        assert fast == known  # the contract's fields only: both paths agree
    decoded = decode_message(raw)
    assert decoded.events == [e for e in expected if e is not None]
    assert len(decoded.dead) == sum(e is None for e in expected)
    if len(objs) == 1:  # a lone object, not in an envelope
        one = decode_events(json.dumps(objs[0], ensure_ascii=False).encode())
        assert one is None or one == [expected[0]]


def test_fast_path_takes_clean_batches_and_leaves_normalising_to_the_contract() -> None:
    clean = [event_dict(event_id=f"e-{i}") for i in range(3)]
    assert decode_events(orjson.dumps(clean)) == [validate_event(o) for o in clean]
    for field, value in [
        ("account_id", " acct-1"),
        ("prompt_simhash", "4EA8F51552C018F0"),
        ("client_ip", "2001:DB8::1"),
        ("status", None),
    ]:
        odd = [*clean, event_dict(**{field: value})]
        assert decode_events(orjson.dumps(odd)) is None, field
        assert decode_message(orjson.dumps(odd)).events == [validate_event(o) for o in odd]


def test_the_two_definitions_have_the_same_fields_and_defaults() -> None:
    contract = RequestEventContract.model_fields
    assert RequestEvent.__struct_fields__ == tuple(contract)
    defaults = dict(
        zip(
            RequestEvent.__struct_fields__[-len(RequestEvent.__struct_defaults__) :],
            RequestEvent.__struct_defaults__,
            strict=True,
        )
    )
    for name, f in contract.items():
        if f.is_required():
            assert name not in defaults, name
        else:
            assert defaults[name] == f.default, name


def test_event_json_round_trips_without_nulls() -> None:
    e = validate_event(event_dict(asn=64500))
    raw = event_json(e)
    assert b"null" not in raw
    assert validate_event(orjson.loads(raw)) == e


@pytest.mark.parametrize(
    "extra",
    [{"request_id": "r-1"}, {"prompt": "raw text"}, {"Prompt": "x"}, {"MESSAGES": []}],
)
def test_known_fields_path_refuses_any_other_field(extra: dict[str, object]) -> None:
    """An unknown field (a raw-text one in any case among them) never passes
    ``decode_known``; ``decode_message`` still keeps the event, without the field."""
    objs = [event_dict(event_id="e-0"), {**event_dict(event_id="e-1"), **extra}]
    raw = orjson.dumps(objs)
    assert decode_known(orjson.dumps(objs[:1])) == [validate_event(objs[0])]
    assert decode_known(raw) is None
    assert decode_message(raw).events == [validate_event(o) for o in objs]


def test_escaped_raw_text_key_is_unknown_to_the_known_fields_path() -> None:
    raw = orjson.dumps([event_dict(event_id="e-0")])[:-2] + b',"\u0070rompt":"x"}]'
    assert decode_known(raw) is None
    assert decode_events(raw) is not None  # ignored there: what the pre-check is for
    assert [e.event_id for e in decode_message(raw).events] == ["e-0"]
