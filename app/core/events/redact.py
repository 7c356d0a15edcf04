"""Raw text never leaves the decoder: structural redaction and digests of what is omitted.

A raw-text field (:data:`~app.core.events.request.RAW_TEXT_FIELDS`) is recognised by its
name, case-insensitively (``"Prompt"``, ``"MESSAGES"``), at any depth. Input that does
not parse cannot be redacted by structure, so its bytes are never kept: a dead letter
then carries :func:`omitted`, a small JSON description (sha256 digest, length, note).

>>> redact({"Prompt": "leak me", "meta": [{"content": "and me"}], "n": 1})
{'Prompt': '[redacted 7 chars]', 'meta': [{'content': '[redacted 6 chars]'}], 'n': 1}
>>> contains_raw_text({"a": [{"MESSAGES": []}]}), contains_raw_text({"a": "prompt"})
(True, False)
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from app.core.events.request import RAW_TEXT_FIELDS

__all__ = [
    "FOLDS_TO_ASCII",
    "MAX_REDACT_DEPTH",
    "contains_raw_text",
    "is_raw_text_key",
    "may_carry_raw_text",
    "omitted",
    "redact",
    "sha256_hex",
]

#: Deeper values are not re-encoded (orjson.dumps stops at 255 levels).
MAX_REDACT_DEPTH = 250
#: The non-ASCII characters whose case fold is ASCII: a key spelled with them
#: (``"meßages"``) folds to a raw-text field name too.
FOLDS_TO_ASCII = "\u00df\u017f\u1e9e\u212a\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"

_NAMES = re.compile(
    rb'"(?:' + b"|".join(re.escape(k.encode()) for k in sorted(RAW_TEXT_FIELDS)) + rb')"'
)
#: A JSON escape of an ASCII letter or of a character folding to ASCII.
_ESCAPE = re.compile(
    rb"\\u(?:00[4-7][0-9a-f]|"
    + b"|".join(f"{ord(c):04x}".encode() for c in FOLDS_TO_ASCII)
    + rb")",
    re.IGNORECASE,
)
_FOLDING = re.compile(b"|".join(re.escape(c.encode()) for c in FOLDS_TO_ASCII))


def may_carry_raw_text(raw: bytes) -> bool:
    """Cheap byte-level test: False means no raw-text key anywhere in ``raw``.

    True for a raw-text name in quotes in any ASCII case, a JSON ``\\u`` escape of a
    letter, or a character folding to ASCII: such a message takes the structural
    path, which counts and redacts what it finds.

    >>> may_carry_raw_text(b'[{"PROMPT": 1}]'), may_carry_raw_text(b'[{"model": "m"}]')
    (True, False)
    """
    if _NAMES.search(raw.lower()) is not None:  # bytes.lower(): ASCII only, one copy
        return True
    if b"\\" in raw and _ESCAPE.search(raw) is not None:  # one byte: memchr-fast
        return True
    return not raw.isascii() and _FOLDING.search(raw) is not None


def is_raw_text_key(key: str) -> bool:
    """Whether a field name is a raw-text field, ignoring case.

    >>> [is_raw_text_key(k) for k in ("prompt", "System_Prompt", "me\\u00dfages", "prompts")]
    [True, True, True, False]
    """
    return key.casefold() in RAW_TEXT_FIELDS


def contains_raw_text(obj: Any) -> bool:
    """Whether any object, at any depth, has a raw-text field (iterative: no depth limit)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if is_raw_text_key(k):
                    return True
                if isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return False


def _marker(value: Any) -> str:
    if isinstance(value, str):
        return f"[redacted {len(value)} chars]"
    return f"[redacted {type(value).__name__}]"


def _redact(obj: Any, depth: int) -> Any:
    if depth > MAX_REDACT_DEPTH:
        raise ValueError(f"nested deeper than {MAX_REDACT_DEPTH} levels")
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out[k] = _marker(v) if is_raw_text_key(k) else _redact(v, depth + 1)
        return out
    if isinstance(obj, list):
        return [_redact(v, depth + 1) for v in obj]
    return obj


def redact(obj: Any) -> Any:
    """A copy with the values of raw-text fields, at any depth, replaced by a size marker.

    Raises ValueError for values nested deeper than :data:`MAX_REDACT_DEPTH`.
    """
    return _redact(obj, 0)


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def omitted(*, digest: str, length: int, note: str, index: int | None = None) -> bytes:
    """The JSON description stored instead of bytes that may hold raw text.

    ``digest`` and ``length`` are those of the message value as consumed; with the
    source topic/partition/offset (DLQ headers) the message can be re-driven and
    checked while the input topic retains it.

    >>> omitted(digest="ab", length=3, note="not UTF-8", index=2)
    b'{"omitted":true,"sha256":"ab","length":3,"index":2,"note":"not UTF-8"}'
    """
    return orjson.dumps(
        {"omitted": True, "sha256": digest, "length": length, "index": index, "note": note}
    )
