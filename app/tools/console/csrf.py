"""The guard on the console's forms: a signed per-browser token, and the browser's Origin.

A form that writes (a verdict) must carry, in a hidden field, the token the console
signed for this browser: the HMAC, under a secret the console draws at start, of a
random nonce it keeps in this browser's ``hydrawatch_csrf`` cookie (HttpOnly,
SameSite=Strict). Another site can make the browser send the cookie (a page on
another port of the same host is the same *site*), but cannot read the console's page
for the field, nor sign a nonce of its own. Besides, a POST whose ``Origin`` (or,
without one, ``Referer``) names another host than the request's ``Host`` is refused,
and so is ``Origin: null``. The console's token (``auth.py``) is checked before any of
this: with a token configured, a POST without it never gets here.

>>> guard = CsrfGuard(secret=b"k" * 32)
>>> token = guard.sign("nonce-1")
>>> guard.refusal({"host": "c:8090", "origin": "http://c:8090"}, "nonce-1", token) is None
True
>>> guard.refusal({"host": "c:8090", "origin": "http://evil.example"}, "nonce-1", token)
'the form came from another site (Origin http://evil.example)'
>>> guard.refusal({"host": "c:8090"}, "nonce-2", token)
'the form is stale or was not made by this console: reload the page and submit it again'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.responses import Response

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CsrfGuard"]

CSRF_COOKIE = "hydrawatch_csrf"
#: the hidden form field holding the signed token
CSRF_FIELD = "csrf"


class CsrfGuard:
    def __init__(self, *, secret: bytes | None = None, secure_cookie: bool = False) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        if len(self._secret) < 16:
            raise ValueError("the CSRF secret must have at least 16 bytes")
        self._secure = secure_cookie

    def sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)

    def set_cookie(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=self._secure, path="/"
        )

    def refusal(
        self, headers: Mapping[str, str], nonce: str | None, token: str | None
    ) -> str | None:
        """Why a POST with these headers, cookie nonce and form token is refused; None
        when it is not."""
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None:
            if origin == "null" or urlsplit(origin).netloc != host:
                return f"the form came from another site (Origin {origin[:100]})"
        else:
            referer = headers.get("referer")
            if referer is not None and urlsplit(referer).netloc != host:
                return "the form came from another site (Referer)"
        expected = self.sign(nonce).encode() if nonce else b""
        if not expected or not hmac.compare_digest(token.encode() if token else b"", expected):
            return (
                "the form is stale or was not made by this console: reload the page and "
                "submit it again"
            )
        return None
