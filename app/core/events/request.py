"""RequestEvent v1: one LLM API request, as the provider's gateway reports it.

No raw prompt or completion text is part of the contract: only sizes, hashes
(``prompt_template_hash``, ``prompt_simhash``) and metadata.

Two definitions of one contract, and one of them decides:

- :class:`RequestEventContract` (pydantic) *is* the contract: it writes
  ``schemas/request_event.v1.json``, decides what is valid and describes why an input
  is not (without echoing its values).
- :class:`RequestEvent` (a frozen ``msgspec.Struct``) is the event the core works
  with. :func:`decode_known` decodes a clean batch of the contract's fields straight
  into it with msgspec's compiled validation (the hot path: ~2.9 µs/event against
  pydantic's ~10; :func:`decode_events` when the producer adds fields); anything
  it is not sure of — a leading or trailing space, an upper-case SimHash, a null
  ``status`` — makes it return ``None`` and the caller validates through the contract
  (:func:`validate_event`). The fast path is never more permissive than the contract
  and gives the same values (``tests/unit/core/events/test_request.py`` checks both
  properties on generated input).

>>> e = validate_event({
...     "event_id": "e1", "ts_ms": 1_767_225_600_000, "account_id": "a1",
...     "client_ip": "203.0.113.7", "model": "frontier-1",
...     "prompt_tokens": 900, "completion_tokens": 300})
>>> e.status, e.subnet
(200, '203.0.113.0/24')
>>> decode_events(b'[{"event_id": "e1", "ts_ms": 1767225600000, "account_id": "a1", '
...     b'"client_ip": "203.0.113.7", "model": "frontier-1", "prompt_tokens": 900, '
...     b'"completion_tokens": 300}]') == [e]
True
"""

from __future__ import annotations

import ipaddress
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect
from msgspec import Meta, Struct
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_TOKENS",
    "MAX_TS_MS",
    "MIN_TS_MS",
    "RAW_TEXT_FIELDS",
    "Category",
    "IpKind",
    "RequestEvent",
    "RequestEventContract",
    "decode_events",
    "decode_known",
    "event_json",
    "subnet_of",
    "validate_event",
]

#: 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z: anything outside is not an event time.
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000
#: No single request carries more tokens than this; larger values are corrupt input.
MAX_TOKENS = 10_000_000
#: Field names that would carry raw prompt/completion text. They are never stored.
RAW_TEXT_FIELDS = frozenset(
    {
        "prompt",
        "completion",
        "messages",
        "content",
        "text",
        "input",
        "output",
        "response",
        "system",
        "system_prompt",
    }
)

IpKind = Literal["residential", "datacenter", "mobile", "proxy", "vpn", "tor", "unknown"]
Category = Literal["coding", "agentic", "tool_use", "reasoning", "chat", "writing", "other"]

Id = Annotated[str, Field(min_length=1, max_length=128)]
ShortText = Annotated[str, Field(max_length=256)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_TOKENS)]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


def _is_canonical_ipv4(value: str) -> bool:
    """Dotted quad with octets 0-255 and no leading zeros (what ipaddress accepts as is).

    >>> [_is_canonical_ipv4(x) for x in ("10.0.0.1", "10.0.0.01", "256.1.1.1", "1.2.3")]
    [True, False, False, False]
    """
    parts = value.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or not p.isascii() or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return False
    return True


def subnet_of(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of a normalised address.

    >>> subnet_of("198.51.100.23"), subnet_of("2001:db8:1:2::1")
    ('198.51.100.0/24', '2001:db8:1::/48')
    """
    if ":" not in ip:  # normalised IPv4: cut the last octet (hot path)
        return ip[: ip.rfind(".")] + ".0/24"
    addr = ipaddress.ip_address(ip)
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class RequestEventContract(BaseModel):
    """One request to the LLM API (schema v1). Unknown fields are ignored."""

    # the contract (module docstring): it writes the schema and decides what is valid

    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, title="RequestEvent"
    )

    event_id: Id
    ts_ms: Annotated[int, Field(strict=True, ge=MIN_TS_MS, le=MAX_TS_MS)]
    account_id: Id
    client_ip: Annotated[str, Field(max_length=64)]
    model: Annotated[str, Field(min_length=1, max_length=128)]
    prompt_tokens: Count
    completion_tokens: Count

    org_id: Id | None = None
    api_key_id: Id | None = None
    account_created_ms: Annotated[int, Field(strict=True, ge=0, le=MAX_TS_MS)] | None = None
    asn: Annotated[int, Field(strict=True, ge=0, le=4_294_967_295)] | None = None
    ip_kind: IpKind | None = None
    country: Country | None = None
    billing_country: Country | None = None
    user_agent: Annotated[str, Field(max_length=512)] | None = None
    tls_ja4: ShortText | None = None
    payment_fingerprint: Id | None = None
    endpoint: ShortText | None = None
    status: Annotated[int, Field(strict=True, ge=100, le=599)] = 200
    latency_ms: Annotated[int, Field(strict=True, ge=0, le=86_400_000)] | None = None
    max_tokens: Annotated[int, Field(strict=True, ge=1, le=MAX_TOKENS)] | None = None
    stream: Annotated[bool, Field(strict=True)] | None = None
    tool_count: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None
    thinking: Annotated[bool, Field(strict=True)] | None = None
    prompt_template_hash: Id | None = None
    prompt_simhash: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$")] | None = None
    category: Category | None = None
    language: Annotated[str, Field(max_length=32)] | None = None
    turn_index: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] | None = None

    @field_validator("client_ip")
    @classmethod
    def _normalise_ip(cls, value: str) -> str:
        if _is_canonical_ipv4(value):  # hot path: already in canonical dotted-quad form
            return value
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("not an IPv4 or IPv6 address") from None

    @field_validator("status", mode="before")
    @classmethod
    def _default_status(cls, value: object) -> object:
        return 200 if value is None else value

    @field_validator("prompt_simhash")
    @classmethod
    def _lower_simhash(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None


_Id = Annotated[str, Meta(min_length=1, max_length=128)]
_Short = Annotated[str, Meta(max_length=256)]
_Count = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]
_Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: a canonical dotted quad (what the contract keeps as is), or an IPv6 candidate (which
#: the contract normalises: :func:`decode_events` leaves those to it); ``\Z``, not ``$``,
#: which would let a trailing newline through
_FAST_IP = rf"^(?:{_OCTET}\.){{3}}{_OCTET}\Z|:"


class RequestEvent(Struct, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=True):
    """One valid request event, as the core uses it (fields: the contract's).

    Built by :func:`decode_known`, :func:`decode_events` or :func:`validate_event`,
    never from unchecked input: constructing one directly (tests, the simulator)
    validates nothing. Decoding into it refuses unknown fields (:func:`decode_known`:
    a message that decodes holds no raw-text field, in any spelling).
    """

    event_id: _Id
    ts_ms: Annotated[int, Meta(ge=MIN_TS_MS, le=MAX_TS_MS)]
    account_id: _Id
    client_ip: Annotated[str, Meta(max_length=64, pattern=_FAST_IP)]
    model: Annotated[str, Meta(min_length=1, max_length=128)]
    prompt_tokens: _Count
    completion_tokens: _Count

    org_id: _Id | None = None
    api_key_id: _Id | None = None
    account_created_ms: Annotated[int, Meta(ge=0, le=MAX_TS_MS)] | None = None
    asn: Annotated[int, Meta(ge=0, le=4_294_967_295)] | None = None
    ip_kind: IpKind | None = None
    country: _Country | None = None
    billing_country: _Country | None = None
    user_agent: Annotated[str, Meta(max_length=512)] | None = None
    tls_ja4: _Short | None = None
    payment_fingerprint: _Id | None = None
    endpoint: _Short | None = None
    status: Annotated[int, Meta(ge=100, le=599)] = 200
    latency_ms: Annotated[int, Meta(ge=0, le=86_400_000)] | None = None
    max_tokens: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] | None = None
    stream: bool | None = None
    tool_count: Annotated[int, Meta(ge=0, le=10_000)] | None = None
    thinking: bool | None = None
    prompt_template_hash: _Id | None = None
    prompt_simhash: Annotated[str, Meta(pattern=r"^[0-9a-f]{16}$")] | None = None
    category: Category | None = None
    language: Annotated[str, Meta(max_length=32)] | None = None
    turn_index: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None

    @property
    def subnet(self) -> str:
        """The /24 or /48 network of ``client_ip``."""
        return subnet_of(self.client_ip)


class _WithExtras(RequestEvent, frozen=True, kw_only=True, gc=False, forbid_unknown_fields=False):
    """The same fields, unknown ones ignored (the contract's ``extra="ignore"``)."""


_FIELDS: tuple[str, ...] = RequestEvent.__struct_fields__
assert tuple(RequestEventContract.model_fields) == _FIELDS, "the two definitions drifted"
# what makes decode_known safe without the raw-text pre-check: no field is one
assert not {f.casefold() for f in _FIELDS} & RAW_TEXT_FIELDS
_ALL = attrgetter(*_FIELDS)


def _free_text_fields() -> tuple[str, ...]:
    """The Struct's string fields without a pattern (a pattern already rejects
    surrounding whitespace), ``client_ip`` aside (checked for canonical form)."""
    names = []
    for f in msgspec.inspect.type_info(RequestEvent).fields:  # type: ignore[attr-defined]
        types = f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,)
        if any(isinstance(t, msgspec.inspect.StrType) and t.pattern is None for t in types):
            names.append(f.name)
    return tuple(n for n in names if n != "client_ip")


#: the free-text fields the contract strips of surrounding whitespace
_STRIPPED = attrgetter(*_free_text_fields())
_KNOWN_BATCH = msgspec.json.Decoder(list[RequestEvent])
_KNOWN_ONE = msgspec.json.Decoder(RequestEvent)
_BATCH = msgspec.json.Decoder(list[_WithExtras])
_ONE = msgspec.json.Decoder(_WithExtras)


def _as_contract_would(e: RequestEvent) -> bool:
    """Whether the contract would give ``e`` as it is: no string to strip, an address
    already in canonical form (the pattern admits dotted quads; IPv6 goes through the
    contract)."""
    for v in _STRIPPED(e):
        if v and (v[0].isspace() or v[-1].isspace()):
            return False
    return ":" not in e.client_ip


def decode_known(raw: bytes) -> list[RequestEvent] | None:
    """A clean message of the contract's fields only (one event object or an array of
    them) in one compiled pass; ``None`` when anything is unknown (a field outside the
    contract: a raw-text one, in any case or escape, among them), invalid or would be
    normalised. What it returns needs no raw-text pre-check."""
    try:
        events = _KNOWN_BATCH.decode(raw) if raw[:1] == b"[" else [_KNOWN_ONE.decode(raw)]
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    for e in events:
        if not _as_contract_would(e):
            return None
    return events


def decode_events(raw: bytes) -> list[RequestEvent] | None:
    """Like :func:`decode_known`, unknown fields ignored as the contract ignores them
    (the caller has ruled out raw-text fields first); ``None`` when anything needs the
    contract (an invalid element, a value it would normalise): validate through
    :func:`validate_event` then."""
    try:
        extras = _BATCH.decode(raw) if raw[:1] == b"[" else [_ONE.decode(raw)]
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None  # (RecursionError: an unknown field nested too deep to skip)
    for e in extras:
        if not _as_contract_would(e):
            return None
    return [RequestEvent(**dict(zip(_FIELDS, _ALL(e), strict=True))) for e in extras]


def validate_event(obj: Any) -> RequestEvent:
    """Validate one parsed object through the contract (raises pydantic's
    ``ValidationError``)."""
    m = RequestEventContract.model_validate(obj)
    return RequestEvent(**{name: getattr(m, name) for name in _FIELDS})


def event_json(e: RequestEvent) -> bytes:
    """The event as JSON, without its null fields (what a dead letter stores)."""
    return msgspec.json.encode({k: v for k in _FIELDS if (v := getattr(e, k)) is not None})
