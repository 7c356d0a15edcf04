from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.events.envelope import split_array

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab ,[]{}:"\\\n\u00e9'), max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=8), st.sampled_from([b"", b" ", b"\n\t "]))
def test_spans_are_the_elements(elements: list[object], pad: bytes) -> None:
    raw = pad + b"[" + (b"," + pad).join(pad + orjson.dumps(x) for x in elements) + b"]" + pad
    spans = split_array(raw)
    assert spans is not None
    assert [orjson.loads(raw[s:e]) for s, e in spans] == elements


def test_bad_bytes_and_bad_syntax_stay_inside_their_element() -> None:
    raw = b'[{"a": "\xff,]"}, {"b": NaN}, 3,, ]'
    spans = split_array(raw)
    assert spans is not None
    assert [raw[s:e] for s, e in spans] == [b'{"a": "\xff,]"}', b' {"b": NaN}', b" 3", b"", b" "]


def test_not_one_delimitable_array() -> None:
    for raw in (
        b"",
        b"{}",
        b"[1, 2",  # unclosed
        b'["abc]',  # unterminated string
        b'["abc\\"]',  # the escaped quote does not close it
        b"[1] [2]",  # content after the array
        b"x [1]",  # content before
        b"[{]}",  # mismatched
        b"[1]]",
        b"[" * 10 + b"]" * 9,
    ):
        assert split_array(raw) is None, raw


def test_deep_nesting_is_scanned_not_recursed() -> None:
    raw = b"[" + b"[" * 100_000 + b"]" * 100_000 + b", 1]"
    spans = split_array(raw)
    assert spans is not None and len(spans) == 2
