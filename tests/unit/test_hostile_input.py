"""Hostile and malformed input through the whole pipeline: never an exception, every
invalid event dead-lettered with a reason, every valid event next to it processed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.stages.account import AccountStage
from app.core.stages.ingest import SourcedDeadLetter, decode_values
from app.runtime.config import Settings
from tests.conftest import event_dict

T0 = 1_767_225_600_000


@dataclass
class Out:
    dead: list[SourcedDeadLetter]
    accepted: int
    late: int
    duplicates: int


@dataclass
class Core:
    """The account stage's event path: decode (the worker's limits), skew filter, stage."""

    settings: Settings = field(default_factory=lambda: Settings(max_batch_events=10_000))
    stage: AccountStage = field(init=False)
    consumed: int = 0
    duplicate: int = 0

    def __post_init__(self) -> None:
        self.stage = AccountStage(self.settings.detection, partition=0, pivot_partitions=4)

    def handle(self, values: list[bytes]) -> Out:
        s = self.settings
        ing = decode_values(
            values,
            max_message_bytes=s.max_message_bytes,
            max_batch_events=s.max_batch_events,
            max_dead_letter_bytes=s.max_dead_letter_bytes,
            max_future_skew_ms=s.max_future_skew_ms,
            now_ms=T0,
        )
        out = self.stage.process([e for es in ing.events for e in es], emitted_ms=T0)
        self.consumed += out.accepted + out.late
        self.duplicate += out.duplicates
        return Out(ing.dead, out.accepted, out.late, out.duplicates)


def make() -> tuple[Core, Core]:
    c = Core()
    return c, c


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


#: The fuzz corpus: one hostile message each (names say what they try).
CORPUS: dict[str, bytes] = {
    "not_json": b"{this is not json",
    "invalid_utf8": b'{"event_id": "\xc3\x28"}',
    "empty": b"",
    "null": b"null",
    "number": b"17",
    "string": b'"hello"',
    "nan": b'{"event_id": "e", "ts_ms": NaN}',
    "infinity": orjson.dumps(event_dict())[:-1] + b', "latency_ms": Infinity}',
    "float_tokens": orjson.dumps(event_dict(prompt_tokens=1.5)),
    "string_tokens": orjson.dumps(event_dict(prompt_tokens="900")),
    "bool_tokens": orjson.dumps(event_dict(completion_tokens=True)),
    "negative_tokens": orjson.dumps(event_dict(prompt_tokens=-1)),
    "absurd_tokens": orjson.dumps(event_dict(completion_tokens=10**15)),
    "huge_int": b'{"event_id": "e", "ts_ms": 1' + b"0" * 400 + b"}",
    "ts_far_future": orjson.dumps(event_dict(ts_ms=T0 + 400 * 86_400_000 * 365)),
    "ts_far_past": orjson.dumps(event_dict(ts_ms=1)),
    "ts_negative": orjson.dumps(event_dict(ts_ms=-5)),
    "ts_next_week": orjson.dumps(event_dict(ts_ms=T0 + 7 * 86_400_000)),
    "ip_garbage": orjson.dumps(event_dict(client_ip="999.1.1.1")),
    "ip_words": orjson.dumps(event_dict(client_ip="localhost")),
    "ip_with_port": orjson.dumps(event_dict(client_ip="1.2.3.4:80")),
    "missing_account": orjson.dumps({k: v for k, v in event_dict().items() if k != "account_id"}),
    "empty_object": b"{}",
    "wrong_nesting": orjson.dumps({"events": [event_dict()]}),
    "raw_prompt": orjson.dumps(event_dict(prompt="harvest me", completion="secret")),
    "raw_prompt_any_case": orjson.dumps(
        event_dict(Prompt="harvest me", MESSAGES=[{"Content": "secret"}], prompt_tokens=-1)
    ),
    "raw_prompt_nested": orjson.dumps(event_dict(meta={"content": "harvest me"}, status=1)),
    "raw_prompt_not_json": b'{"prompt": "harvest me", "completion": "secret"',
    "raw_prompt_not_utf8": b'{"prompt": "harvest me \xff secret"}',
    "raw_prompt_too_large": orjson.dumps(event_dict(prompt="harvest me " + "x" * 9_000_000)),
    "raw_prompt_bare_string": b'"harvest me, secret"',
    "ten_mb_value": orjson.dumps(event_dict(account_id="a" * 10 * 1024 * 1024)),
    "ten_mb_field": orjson.dumps(event_dict(user_agent="u" * 10 * 1024 * 1024)),
    "deeply_nested": _nested(100_000),
    "nested_in_field": orjson.dumps(event_dict())[:-1] + b', "extra": ' + _nested(5_000) + b"}",
    "huge_batch": orjson.dumps([event_dict(event_id=str(i)) for i in range(20_000)]),
    "batch_of_junk": orjson.dumps([1, "x", None, [], {}, event_dict(event_id="ok")]),
    "control_chars_id": orjson.dumps(event_dict(account_id="a\x00\x1b[31m")),
    "long_id": orjson.dumps(event_dict(account_id="a" * 5_000)),
    "duplicate_keys": b'{"event_id": "e", "event_id": "f"}',
}


def test_fuzz_corpus_never_crashes_and_dead_letters_with_reasons() -> None:
    p, m = make()
    valid = orjson.dumps([event_dict(event_id="v1"), event_dict(event_id="v2")])
    for name, value in CORPUS.items():
        out = p.handle([value, valid])  # a good message right after each bad one
        for d in out.dead:
            assert d.letter.reason and d.letter.detail, name
            assert b"harvest me" not in d.letter.raw and b"secret" not in d.letter.raw, name
        assert all(d.message_index == 0 for d in out.dead), name
    # the two valid events were processed once (later repeats are duplicates, not lost)
    assert m.consumed >= 2
    assert m.duplicate >= 2 * (len(CORPUS) - 1) - 2


def test_each_corpus_message_is_fully_accounted_for() -> None:
    for name, value in CORPUS.items():
        p, _ = make()
        out = p.handle([value])
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            doc = None
        n = len(doc) if isinstance(doc, list) and len(value) < 8 * 1024 * 1024 else 1
        if name == "huge_batch":
            n = 1  # over max_batch_events: one dead letter for the whole message
        got = out.accepted + out.late + out.duplicates + len(out.dead)
        assert got == n, f"{name}: {got} accounted of {n}"


def test_a_bad_byte_in_one_element_loses_only_that_element() -> None:
    p, _ = make()
    batch = orjson.dumps([event_dict(event_id=f"e{i}") for i in range(11)])
    out = p.handle([batch.replace(b'"e5"', b'"e5\xff"')])
    assert out.accepted == 10
    assert [(d.letter.reason, d.letter.index) for d in out.dead] == [("invalid_utf8", 5)]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_crash(value: bytes) -> None:
    p, _ = make()
    out = p.handle([value])
    assert out.accepted + len(out.dead) >= 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(event_dict())), json_values, max_size=7))
def test_arbitrary_field_values_never_crash(overrides: dict[str, object]) -> None:
    p, _ = make()
    batch = [event_dict(**overrides), event_dict(event_id="untouched-neighbour")]
    out = p.handle([json.dumps(batch).encode()])  # stdlib: also writes ints beyond 64 bits
    assert out.accepted + out.duplicates + len(out.dead) + out.late == 2
    assert out.accepted >= 1  # the untouched event is never lost with its neighbour
