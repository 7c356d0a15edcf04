"""Kafka message bytes → valid RequestEvents + dead letters, never an exception.

A message value is one JSON event object or a JSON array of them (a batch
envelope). Each invalid element becomes a :class:`DeadLetter` with a reason code
and a detail that never echoes input values; valid elements of the same message
are kept, also when another element holds a byte that is not UTF-8 or is not JSON.

A dead letter never stores raw text: where the input parses, ``raw`` is its
re-encoding with raw-text fields redacted (by name, any case, any depth); where it
does not (or that re-encoding would exceed ``max_dead_letter_bytes``), ``raw`` is a
small JSON description of the omitted bytes (:func:`~app.core.events.redact.omitted`).

>>> d = decode_message(b'[{"event_id": "x"}, 7]')
>>> [(x.reason, x.index) for x in d.dead]
[('invalid_event', 0), ('not_an_object', 1)]
>>> d = decode_message(b'[{"event_id": "\\xff"}, 7]')
>>> [(x.reason, x.index) for x in d.dead]
[('invalid_utf8', 0), ('not_an_object', 1)]
>>> orjson.loads(decode_message(b"\\xff").dead[0].raw)["length"]
1
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from app.core.events.envelope import split_array
from app.core.events.redact import (
    contains_raw_text,
    may_carry_raw_text,
    omitted,
    redact,
    sha256_hex,
)
from app.core.events.request import RequestEvent, decode_events, decode_known, validate_event

__all__ = [
    "DEFAULT_MAX_BATCH_EVENTS",
    "DEFAULT_MAX_DEAD_LETTER_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DeadLetter",
    "Decoded",
    "decode_message",
    "redact",
]

DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_BATCH_EVENTS = 50_000
#: A dead letter's ``raw`` stays below this (the producer's default request limit is
#: 1,000,000 bytes, headers included).
DEFAULT_MAX_DEAD_LETTER_BYTES = 512 * 1024
_MAX_DETAIL_CHARS = 500
_ARRAY_START = re.compile(rb"[ \t\r\n]*\[")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be accepted.

    ``raw`` holds safe bytes only: the input (for a batch element, the element)
    re-encoded with raw-text fields redacted, or, where that is not possible, a JSON
    description of what was omitted. ``index`` is the element's position in a batch;
    ``digest`` (hex sha256) and ``length`` are those of the whole message value.
    """

    reason: str
    detail: str
    raw: bytes
    index: int | None = None
    digest: str | None = None
    length: int | None = None


@dataclass(slots=True)
class Decoded:
    """The outcome of decoding one message."""

    events: list[RequestEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    #: Valid events that carried raw-text fields (dropped, never stored).
    raw_text_dropped: int = 0


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(str(x) for x in err["loc"]) or "<event>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)[:_MAX_DETAIL_CHARS]


def _json_detail(exc: orjson.JSONDecodeError) -> str:
    """The parser's message and position, never a snippet of the input."""
    msg = exc.msg
    if not msg.isascii() or '"' in msg or len(msg) > 100:
        msg = "not valid JSON"
    return f"{msg} (char {exc.pos})"


def _is_utf8(data: bytes | memoryview) -> bool:
    try:
        str(data, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Letters:
    """Builds the dead letters of one message (digest computed once, when needed)."""

    __slots__ = ("_digest", "_value", "limit", "out")

    def __init__(self, value: bytes, out: Decoded, limit: int) -> None:
        self._value = value
        self._digest: str | None = None
        self.out = out
        self.limit = limit

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = sha256_hex(self._value)
        return self._digest

    def omit(self, reason: str, detail: str, note: str, index: int | None = None) -> None:
        """A dead letter whose bytes are not stored, only described."""
        n = len(self._value)
        raw = omitted(digest=self.digest, length=n, note=note, index=index)
        self.out.dead.append(DeadLetter(reason, detail, raw, index, self.digest, n))

    def parsed(self, reason: str, detail: str, obj: Any, index: int | None = None) -> None:
        """A dead letter for parsed input: its redacted re-encoding, within the cap."""
        try:
            raw = orjson.dumps(redact(obj))
        except (ValueError, TypeError, RecursionError):  # nested too deep to re-encode
            self.omit(reason, detail, "nested too deep to re-encode: not stored", index)
            return
        if len(raw) > self.limit:
            self.omit(reason, detail, f"{len(raw)} bytes redacted > {self.limit}", index)
            return
        n = len(self._value)
        self.out.dead.append(DeadLetter(reason, detail, raw, index, self.digest, n))


def _validate_one(obj: Any, index: int | None, letters: _Letters) -> None:
    out = letters.out
    if not isinstance(obj, dict):
        detail = f"expected a JSON object, got {type(obj).__name__}"
        if obj is None or isinstance(obj, bool | int | float):
            letters.parsed("not_an_object", detail, obj, index)
        else:  # a string or array has no field names to redact by: may be raw text
            letters.omit("not_an_object", detail, "not an object: not stored", index)
        return
    try:
        event = validate_event(obj)
    except ValidationError as exc:
        letters.parsed("invalid_event", _describe(exc), obj, index)
        return
    if contains_raw_text(obj):
        out.raw_text_dropped += 1
    out.events.append(event)


def _decode_elements(value: bytes, spans: list[tuple[int, int]], letters: _Letters) -> None:
    """The elements of an envelope that did not parse as a whole, each on its own."""
    view = memoryview(value)
    for i, (s, e) in enumerate(spans):
        try:
            obj = orjson.loads(view[s:e])
        except orjson.JSONDecodeError as exc:
            if _is_utf8(view[s:e]):
                letters.omit("invalid_json", _json_detail(exc), "element not JSON: not stored", i)
            else:
                letters.omit(
                    "invalid_utf8", "element is not valid UTF-8", "element not UTF-8: not stored", i
                )
            continue
        _validate_one(obj, i, letters)


def decode_message(
    raw: bytes | None,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
    max_dead_letter_bytes: int = DEFAULT_MAX_DEAD_LETTER_BYTES,
) -> Decoded:
    """Decode one message value (an event object or an array of them)."""
    out = Decoded()
    value = raw or b""
    letters = _Letters(value, out, max_dead_letter_bytes)
    if not value:
        out.dead.append(
            DeadLetter("empty_message", "message value is empty", b"", None, letters.digest, 0)
        )
        return out
    if len(value) > max_message_bytes:
        letters.omit(
            "message_too_large",
            f"{len(value)} bytes > limit of {max_message_bytes}",
            "over the size limit: not parsed, not stored",
        )
        return out
    if value[:1] in b"[{":
        # fast path: a clean message decoded and validated in one compiled pass (the
        # contract's fields only: then no raw-text field can be in it; else, with the
        # raw-text pre-check, unknown fields ignored); an element it is not sure of
        # sends the whole message down the contract's path
        events = decode_known(value)
        if events is None and not may_carry_raw_text(value):
            events = decode_events(value)
        if events is not None and 0 < len(events) <= max_batch_events:
            out.events = events
            return out
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        spans = split_array(value) if _ARRAY_START.match(value) else None
        if spans is None:
            if _is_utf8(value):
                letters.omit("invalid_json", _json_detail(exc), "not JSON: not stored")
            else:
                letters.omit("invalid_utf8", "message is not valid UTF-8", "not UTF-8: not stored")
        elif len(spans) > max_batch_events:
            letters.omit(
                "batch_too_large",
                f"{len(spans)} events > limit of {max_batch_events}",
                "batch over the event limit: not stored",
            )
        else:
            _decode_elements(value, spans, letters)
        return out
    if isinstance(parsed, list):
        if not parsed:
            letters.parsed("empty_batch", "batch envelope has no events", parsed)
        elif len(parsed) > max_batch_events:
            letters.omit(
                "batch_too_large",
                f"{len(parsed)} events > limit of {max_batch_events}",
                "batch over the event limit: not stored",
            )
        else:
            for i, obj in enumerate(parsed):
                _validate_one(obj, i, letters)
        return out
    if isinstance(parsed, dict):
        _validate_one(parsed, None, letters)
        return out
    detail = f"expected a JSON object or array, got {type(parsed).__name__}"
    if parsed is None or isinstance(parsed, bool | int | float):
        letters.parsed("not_an_object", detail, parsed)
    else:
        letters.omit("not_an_object", detail, "not an object: not stored")
    return out
