"""RequestEvent v1: one LLM API request, as the provider's gateway reports it.

No raw prompt or completion text is part of the contract: only sizes, hashes
(``prompt_template_hash``, ``prompt_simhash``) and metadata.

>>> e = RequestEvent.model_validate({
...     "event_id": "e1", "ts_ms": 1_767_225_600_000, "account_id": "a1",
...     "client_ip": "203.0.113.7", "model": "frontier-1",
...     "prompt_tokens": 900, "completion_tokens": 300})
>>> e.status, e.subnet
(200, '203.0.113.0/24')
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_TOKENS",
    "MAX_TS_MS",
    "MIN_TS_MS",
    "RAW_TEXT_FIELDS",
    "Category",
    "IpKind",
    "RequestEvent",
    "subnet_of",
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


class RequestEvent(BaseModel):
    """One request to the LLM API (schema v1). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

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

    @property
    def subnet(self) -> str:
        """The /24 or /48 network of ``client_ip``."""
        return subnet_of(self.client_ip)
