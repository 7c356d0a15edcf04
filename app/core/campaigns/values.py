"""The integer values one request contributes to every view, and the pivots it carries.

A request adds eight non-negative integers to its account's, its pivots' and the
population's sliding views (harvest in 1/``HARVEST_UNITS`` units, so every sum is an
exact integer). The account stage sums them per (pivot, account, tick bucket) before
they travel: :func:`widen` lays the eight values out in one Python int, 64 bits each,
so summing many requests is one addition per pivot, and :func:`narrow` reads the sums
back.

>>> v = (1, 13, 1, 0, 1, 1, 4096, 0)
>>> narrow(widen(v) + widen(v)) == [2 * x for x in v]
True
>>> pivot_kind("tls:t13d|sdk/1.0")
'tls'
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Sequence

from app.core.events import RequestEvent
from app.core.features.request import RequestSignals
from app.core.windows.sliding import HOUR_MS

__all__ = [
    "ACCOUNT_FIELDS",
    "DIMENSION_OF_KIND",
    "F_429",
    "F_AGE_KNOWN",
    "F_COMPLETION",
    "F_HARVEST",
    "F_MISMATCH",
    "F_REQ",
    "F_RISKY",
    "F_YOUNG",
    "LINKING_EXCLUDED",
    "N_FIELDS",
    "PIVOT_KINDS",
    "SHARED_BY_STRANGERS",
    "card_tag",
    "narrow",
    "org_tag",
    "pivot_kind",
    "pivot_value",
    "pivots_of",
    "request_values",
    "widen",
]

F_REQ, F_HARVEST, F_MISMATCH, F_YOUNG, F_RISKY, F_AGE_KNOWN, F_COMPLETION, F_429 = range(8)
N_FIELDS = 8
#: Accounts keep the first six fields (completion tokens and 429s only feed entity models).
ACCOUNT_FIELDS = 6
_SIM_BANDS = 3
_SIM_BAND_BITS = 21
#: Pivot kinds that never link accounts on their own (an ASN holds millions of
#: unrelated customers); they still get windows, a River model and entity alerts.
LINKING_EXCLUDED = frozenset({"asn"})
#: Pivot kinds whose values strangers share (an ASN, an account-creation hour): they
#: send no hints and are never remembered as a campaign's indicators — a remembered
#: creation hour would qualify every later sign-up of that hour.
SHARED_BY_STRANGERS = frozenset({"asn", "created"})
#: every pivot kind :func:`pivots_of` makes
PIVOT_KINDS = ("subnet", "asn", "payment", "tls", "template", "simhash", "created")
#: Which independent dimension of an account each pivot kind describes. Kinds of one
#: dimension move together (a tool's TLS fingerprint and user agent; a template and the
#: SimHash of its text), so a dense block is counted in dimensions, not kinds.
DIMENSION_OF_KIND: dict[str, str] = {
    "subnet": "network",
    "asn": "network",
    "payment": "payment",
    "tls": "client",
    "template": "content",
    "simhash": "content",
    "created": "creation",
}


def request_values(e: RequestEvent, s: RequestSignals) -> array[int]:
    return array(
        "i",
        (
            1,
            s.harvest_units,
            s.mismatch,
            s.young,
            s.risky_ip,
            s.age_known,
            e.completion_tokens,
            s.rate_limited,
        ),
    )


#: one little-endian 64-bit slot per field (a field's sum overflows only past 2**64 per
#: account and bucket: far beyond any request volume or token count)
_SLOTS = struct.Struct(f"<{N_FIELDS}Q")


def widen(values: Sequence[int]) -> int:
    """The eight values in one int: the sum of widened values widens the sums."""
    return int.from_bytes(_SLOTS.pack(*values), "little")


def narrow(wide: int) -> list[int]:
    """The eight sums a sum of :func:`widen` results holds."""
    return list(_SLOTS.unpack(wide.to_bytes(_SLOTS.size, "little")))


def pivot_kind(key: str) -> str:
    return key[: key.index(":")]


def pivot_value(key: str) -> str:
    return key[key.index(":") + 1 :]


def org_tag(org: str) -> int:
    """The small int an org travels as on observations and links (never 0).

    >>> org_tag("org-acme") == org_tag("org-acme") != 0
    True
    """
    return (zlib.crc32(org.encode()) & 0x7FFFFFFF) or 1


def card_tag(payment_fingerprint: str | None) -> int:
    """The 48-bit int an account's payment method travels as on observations and links
    (0: none). Exact in a float64 member record; two independent cards collide with
    probability 2⁻⁴⁸ per pair.

    >>> card_tag("pay-1") == card_tag("pay-1") != card_tag("pay-2"), card_tag(None)
    (True, 0)
    """
    if not payment_fingerprint:
        return 0
    b = payment_fingerprint.encode()
    return (((zlib.crc32(b) << 16) ^ zlib.adler32(b)) & 0xFFFF_FFFF_FFFF) or 1


def pivots_of(e: RequestEvent, s: RequestSignals, subnet: str) -> list[str]:
    """The indicator values (``kind:value``) a request carries."""
    out = ["subnet:" + subnet]
    if e.payment_fingerprint:
        out.append("payment:" + e.payment_fingerprint)
    if e.tls_ja4:
        out.append(f"tls:{e.tls_ja4}|{e.user_agent or ''}")
    if e.prompt_template_hash:
        out.append("template:" + e.prompt_template_hash)
    if e.prompt_simhash and s.harvest >= 0.5:
        value = int(e.prompt_simhash, 16)
        mask = (1 << _SIM_BAND_BITS) - 1
        for band in range(_SIM_BANDS):
            out.append(f"simhash:{band}:{(value >> (band * _SIM_BAND_BITS)) & mask:x}")
    if s.young and e.account_created_ms is not None:
        out.append(f"created:{e.account_created_ms // HOUR_MS}")
    if e.asn is not None:
        out.append(f"asn:{e.asn}")
    return out
