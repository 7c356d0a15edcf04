"""Who may read the console: loopback by default, a token for anything else.

:func:`check_bind` refuses a non-loopback address without a token. With a token, every
request must present it: ``Authorization: Bearer <token>``, or the cookie set when a
browser first opens a page with ``?token=<token>`` (the console then redirects to the
same page without it, so the token does not stay in the address bar or the history).

>>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
(True, True, True, False)
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "TokenMiddleware", "check_bind", "is_loopback"]

COOKIE = "hydrawatch_console"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Raise ValueError for a non-loopback bind address without a token."""
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to serve the console on {host} without a token: give --token "
            "(or HYDRAWATCH_CONSOLE_TOKEN), or bind to 127.0.0.1"
        )


class TokenMiddleware:
    """Every HTTP request must carry ``token`` (header, cookie, or ``?token=`` once)."""

    def __init__(self, app: ASGIApp, *, token: str, secure_cookie: bool = False) -> None:
        if not token:
            raise ValueError("empty token")
        self.app = app
        self._token = token.encode()
        self._secure = secure_cookie

    def _ok(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        auth = conn.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        response: Response | None = None
        if self._ok(bearer) or self._ok(conn.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._ok(conn.query_params.get("token")):
            params = [(k, v) for k, v in conn.query_params.multi_items() if k != "token"]
            query = urlencode(params)
            response = RedirectResponse(conn.url.path + (f"?{query}" if query else ""))
            response.set_cookie(
                COOKIE, self._token.decode(), httponly=True, samesite="strict", secure=self._secure
            )
        else:
            response = PlainTextResponse(
                "401: this console needs its token (?token=… once, or Authorization: Bearer)",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        await response(scope, receive, send)
