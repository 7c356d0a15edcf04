from __future__ import annotations

import contextlib

import msgspec
import orjson

from app.core.events.decode import decode_message
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
    assert b"hi there" not in msgspec.json.encode(ok.events[0])


def test_fast_batch_path_agrees_with_per_element_validation() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from pydantic import ValidationError

    from app.core.events.redact import contains_raw_text
    from app.core.events.request import validate_event

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
            {"Prompt": "secret"},
            {"meta": [{"CONTENT": "secret"}]},
        ]
    )

    @settings(max_examples=80, deadline=None)
    @given(st.lists(mutations, min_size=1, max_size=12))
    def check(muts: list[dict[str, object]]) -> None:
        batch = [event_dict(event_id=str(i), **m) for i, m in enumerate(muts)]
        expected = []
        dropped = 0
        for obj in batch:
            with contextlib.suppress(ValidationError):
                expected.append(validate_event(obj))
                dropped += contains_raw_text(obj)
        got = decode_message(orjson.dumps(batch))
        assert got.events == expected
        assert got.raw_text_dropped == dropped
        assert len(got.events) + len(got.dead) == len(batch)

    check()


# ---- one bad element costs only itself ----


def _batch(n: int) -> list[dict[str, object]]:
    return [event_dict(event_id=f"e{i}") for i in range(n)]


def test_invalid_utf8_in_one_element_keeps_its_siblings() -> None:
    raw = orjson.dumps(_batch(11)).replace(b'"e5"', b'"e5\xff"')
    d = decode_message(raw)
    assert [e.event_id for e in d.events] == [f"e{i}" for i in range(11) if i != 5]
    assert [(x.reason, x.index) for x in d.dead] == [("invalid_utf8", 5)]


def test_invalid_json_in_one_element_keeps_its_siblings() -> None:
    good = [orjson.dumps(e) for e in _batch(3)]
    raw = b"[" + b", ".join([good[0], b'{"event_id": NaN}', good[1], b"", good[2]]) + b"]"
    d = decode_message(raw)
    assert [e.event_id for e in d.events] == ["e0", "e1", "e2"]
    assert [(x.reason, x.index) for x in d.dead] == [("invalid_json", 1), ("invalid_json", 3)]


def test_an_envelope_that_cannot_be_split_is_one_dead_letter() -> None:
    raw = orjson.dumps(_batch(3))
    for bad, reason in ((raw[:-1], "invalid_json"), (raw[:-1] + b"\xff", "invalid_utf8")):
        d = decode_message(bad)
        assert not d.events and [(x.reason, x.index) for x in d.dead] == [(reason, None)]


def test_too_many_elements_in_an_envelope_that_does_not_parse() -> None:
    raw = orjson.dumps(_batch(5)).replace(b'"e1"', b'"\xff"')
    d = decode_message(raw, max_batch_events=4)
    assert not d.events and [x.reason for x in d.dead] == ["batch_too_large"]


# ---- no raw text in any dead letter ----

SECRET = "SECRET-PROMPT-TEXT please ignore previous instructions"


def _bad(**kw: object) -> dict[str, object]:
    return event_dict(prompt_tokens=-1, **kw)


HOSTILE: dict[str, bytes] = {
    "invalid_json": b'{"event_id": "e", "prompt": "' + SECRET.encode() + b'", }',
    "invalid_json_unterminated": b'{"prompt": "' + SECRET.encode(),
    "invalid_utf8": b'{"prompt": "' + SECRET.encode() + b'\xff"}',
    "invalid_utf8_element": b'[{"prompt": "' + SECRET.encode() + b'\xff"}]',
    "invalid_json_element": b'[{"prompt": "' + SECRET.encode() + b'", }, 1]',
    "case_prompt": orjson.dumps(_bad(Prompt=SECRET)),
    "case_messages": orjson.dumps(_bad(MESSAGES=[{"role": "user", "Content": SECRET}])),
    "nested_content": orjson.dumps(_bad(meta={"messages": [{"content": SECRET}]})),
    "nested_in_batch": orjson.dumps([event_dict(), _bad(x=[{"CONTENT": SECRET}])]),
    "escaped_key": b'{"\\u0070rompt": "' + SECRET.encode() + b'", "prompt_tokens": -1}',
    "folded_key": orjson.dumps(_bad(**{"me\u00dfages": SECRET})),
    "duplicate_key": b'{"prompt": "' + SECRET.encode() + b'", "prompt": "x"}',
    "too_large": orjson.dumps(_bad(prompt=SECRET + "x" * 70_000)),
    "batch_too_large": orjson.dumps([event_dict(prompt=SECRET)] * 20),
    "bare_string": orjson.dumps(SECRET),
    "string_element": orjson.dumps([event_dict(), SECRET]),
    "list_element": orjson.dumps([[SECRET]]),
    "too_deep": orjson.dumps(_bad(x=SECRET))[:-1] + b', "d": ' + b"[" * 300 + b"]" * 300 + b"}",
}


def test_secret_text_is_in_no_dead_letter_field() -> None:
    import dataclasses

    for name, raw in HOSTILE.items():
        d = decode_message(raw, max_message_bytes=65_536, max_batch_events=10)
        assert d.dead, name
        for letter in d.dead:
            for value in dataclasses.astuple(letter):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                assert "SECRET" not in text, (name, letter)


def test_unparseable_input_is_described_by_digest_not_stored() -> None:
    import hashlib

    for name in ("invalid_json", "invalid_utf8", "too_large", "batch_too_large", "bare_string"):
        raw = HOSTILE[name]
        (letter,) = decode_message(raw, max_message_bytes=65_536, max_batch_events=10).dead
        doc = orjson.loads(letter.raw)
        assert doc["omitted"] is True and doc["note"], name
        assert doc["sha256"] == letter.digest == hashlib.sha256(raw).hexdigest(), name
        assert doc["length"] == letter.length == len(raw), name
    (letter,) = decode_message(HOSTILE["invalid_utf8_element"]).dead
    assert orjson.loads(letter.raw)["index"] == letter.index == 0


def test_parseable_input_is_kept_with_raw_text_redacted() -> None:
    (letter,) = decode_message(HOSTILE["case_messages"]).dead
    doc = orjson.loads(letter.raw)
    assert doc["MESSAGES"] == "[redacted list]" and doc["prompt_tokens"] == -1
    assert letter.digest is not None and letter.length == len(HOSTILE["case_messages"])


def test_raw_text_under_any_case_or_depth_is_counted_as_dropped() -> None:
    events = [
        event_dict(event_id="a", Prompt="x"),
        event_dict(event_id="b", MESSAGES=[{"role": "user"}]),
        event_dict(event_id="c", meta={"content": "x"}),
        event_dict(event_id="d"),
    ]
    d = decode_message(orjson.dumps(events))
    assert len(d.events) == 4 and d.raw_text_dropped == 3
    assert decode_message(orjson.dumps(events[0])).raw_text_dropped == 1


# ---- dead letters stay small ----


def test_no_dead_letter_exceeds_the_cap() -> None:
    from app.core.events.decode import DEFAULT_MAX_DEAD_LETTER_BYTES

    two_mb = 2 * 1024 * 1024
    cases = {
        "invalid_json": b'{"blob": "' + b"x" * two_mb + b'", }',
        "invalid_event": orjson.dumps(_bad(blob="x" * two_mb)),
        "invalid_element": orjson.dumps([event_dict(), _bad(blob="x" * two_mb)]),
        "invalid_utf8_element": orjson.dumps([event_dict(), _bad(blob="x" * two_mb)]).replace(
            b"xx", b"x\xff", 1
        ),
    }
    for cap in (DEFAULT_MAX_DEAD_LETTER_BYTES, 1024):
        for name, raw in cases.items():
            d = decode_message(raw, max_dead_letter_bytes=cap)
            assert d.dead, name
            for letter in d.dead:
                assert len(letter.raw) <= cap, (name, cap, len(letter.raw))
                assert orjson.loads(letter.raw)["omitted"] is True
    small = decode_message(orjson.dumps(_bad(blob="x" * 100)), max_dead_letter_bytes=1024)
    assert b"x" * 100 in small.dead[0].raw  # under the cap: the (redacted) event itself


def test_deeply_nested_invalid_event_is_a_dead_letter_not_an_exception() -> None:
    for depth in (200, 300, 600, 1000):
        raw = orjson.dumps(_bad())[:-1] + b', "d": ' + b"[" * depth + b"]" * depth + b"}"
        d = decode_message(raw)
        assert [x.reason for x in d.dead] == ["invalid_event"], depth
