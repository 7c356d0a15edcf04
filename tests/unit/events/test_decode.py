from __future__ import annotations

import contextlib

import orjson

from app.events.decode import decode_message
from tests.conftest import event_dict


def test_single_event() -> None:
    d = decode_message(orjson.dumps(event_dict()))
    assert len(d.events) == 1 and not d.dead


def test_batch_envelope_keeps_valid_events_next_to_invalid_ones() -> None:
    batch = [event_dict(event_id="a"), {"event_id": "b"}, 42, event_dict(event_id="c")]
    d = decode_message(orjson.dumps(batch))
    assert [e.event_id for e in d.events] == ["a", "c"]
    assert [(x.reason, x.index) for x in d.dead] == [("invalid_event", 1), ("not_an_object", 2)]
    assert d.dead[0].raw == b'{"event_id":"b"}'


def test_reason_codes() -> None:
    cases = {
        b"": "empty_message",
        b"{not json": "invalid_json",
        b"\xff\xfe\x00": "invalid_utf8",
        b'"a string"': "not_an_object",
        b"[]": "empty_batch",
        b'{"ts_ms": NaN}': "invalid_json",
        b"[" * 5000 + b"]" * 5000: "invalid_json",  # nesting beyond the parser's limit
    }
    for raw, reason in cases.items():
        d = decode_message(raw)
        assert not d.events
        assert [x.reason for x in d.dead] == [reason], raw[:20]


def test_none_value_is_a_dead_letter() -> None:
    assert decode_message(None).dead[0].reason == "empty_message"


def test_size_limits() -> None:
    big = orjson.dumps([event_dict(event_id=str(i)) for i in range(20)])
    assert decode_message(big, max_message_bytes=1024).dead[0].reason == "message_too_large"
    assert decode_message(big, max_batch_events=10).dead[0].reason == "batch_too_large"


def test_detail_names_fields_but_never_echoes_values() -> None:
    d = decode_message(orjson.dumps(event_dict(account_id="", prompt_tokens="SECRET-VALUE")))
    detail = d.dead[0].detail
    assert "account_id" in detail and "prompt_tokens" in detail
    assert "SECRET-VALUE" not in detail


def test_raw_text_is_redacted_in_dead_letters_and_dropped_from_valid_events() -> None:
    bad = event_dict(prompt="please leak this", prompt_tokens=-5)
    d = decode_message(orjson.dumps(bad))
    assert b"please leak this" not in d.dead[0].raw
    assert b"[redacted" in d.dead[0].raw
    ok = decode_message(orjson.dumps([event_dict(messages=[{"content": "hi there"}])]))
    assert len(ok.events) == 1 and ok.raw_text_dropped == 1
    assert b"hi there" not in ok.events[0].model_dump_json().encode()


def test_fast_batch_path_agrees_with_per_element_validation() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from pydantic import ValidationError

    from app.events.request import RequestEvent

    mutations = st.sampled_from(
        [
            {},
            {"prompt_tokens": -1},
            {"client_ip": "nope"},
            {"ts_ms": "x"},
            {"status": None},
            {"country": "usa"},
            {"thinking": True},
            {"extra": [1, 2]},
            {"prompt": "secret"},
        ]
    )

    @settings(max_examples=80, deadline=None)
    @given(st.lists(mutations, min_size=1, max_size=12))
    def check(muts: list[dict[str, object]]) -> None:
        batch = [event_dict(event_id=str(i), **m) for i, m in enumerate(muts)]
        expected = []
        for obj in batch:
            with contextlib.suppress(ValidationError):
                expected.append(RequestEvent.model_validate(obj))
        got = decode_message(orjson.dumps(batch))
        assert got.events == expected
        assert len(got.events) + len(got.dead) == len(batch)

    check()
