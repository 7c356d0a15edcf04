from __future__ import annotations

import sys

import orjson
import pytest

from app.core.events.redact import (
    FOLDS_TO_ASCII,
    MAX_REDACT_DEPTH,
    contains_raw_text,
    is_raw_text_key,
    may_carry_raw_text,
    omitted,
    redact,
)
from app.core.events.request import RAW_TEXT_FIELDS


def test_keys_match_in_any_case() -> None:
    for name in RAW_TEXT_FIELDS:
        for variant in (name, name.upper(), name.title(), name.swapcase()):
            assert is_raw_text_key(variant)
            assert redact({variant: "SECRET"}) == {variant: "[redacted 6 chars]"}
            assert may_carry_raw_text(orjson.dumps({variant: 1}))
    assert not is_raw_text_key("prompt_tokens") and not is_raw_text_key("prompts")


def test_nested_at_any_depth() -> None:
    obj = {"a": [{"b": {"Messages": [{"content": "SECRET"}]}}], "content": {"x": "SECRET"}}
    assert b"SECRET" not in orjson.dumps(redact(obj))
    assert contains_raw_text(obj) and contains_raw_text([[[{"TEXT": 1}]]])
    deep: object = {"prompt": 1}
    for _ in range(100_000):  # iterative: no recursion limit
        deep = [deep]
    assert contains_raw_text(deep)


def test_too_deep_to_redact_is_an_error_not_a_crash() -> None:
    deep: object = "x"
    for _ in range(MAX_REDACT_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError):
        redact(deep)


def test_fold_characters_are_all_that_fold_to_ascii() -> None:
    found = "".join(
        chr(cp) for cp in range(0x80, sys.maxunicode + 1) if chr(cp).casefold().isascii()
    )
    assert found == FOLDS_TO_ASCII
    assert is_raw_text_key("me\u00dfages") and is_raw_text_key("\u017fystem")
    assert may_carry_raw_text(orjson.dumps({"me\u00dfages": 1}))
    assert may_carry_raw_text(b'{"\\u0050rompt": 1}')  # escaped letter
    assert may_carry_raw_text(b'{"me\\u00DFages": 1}')
    assert not may_carry_raw_text(orjson.dumps({"user_agent": "caf\u00e9"}))


def test_omitted_description() -> None:
    doc = orjson.loads(omitted(digest="d" * 64, length=10, note="why", index=3))
    assert doc == {"omitted": True, "sha256": "d" * 64, "length": 10, "index": 3, "note": "why"}
