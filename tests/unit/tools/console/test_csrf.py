"""The forms' guard: a token signed for the browser's nonce, and the Origin/Referer."""

from __future__ import annotations

import pytest

from app.tools.console.csrf import CsrfGuard

HOST = {"host": "console.internal:8090"}


@pytest.fixture
def guard() -> CsrfGuard:
    return CsrfGuard(secret=b"s" * 32)


def test_the_token_signed_for_this_nonce_from_this_origin_passes(guard: CsrfGuard) -> None:
    token = guard.sign("n1")
    assert guard.refusal({**HOST, "origin": "http://console.internal:8090"}, "n1", token) is None
    # behind TLS termination the scheme may differ; the host must not
    assert guard.refusal({**HOST, "origin": "https://console.internal:8090"}, "n1", token) is None
    assert guard.refusal(HOST, "n1", token) is None  # no Origin, no Referer: a script
    same = {**HOST, "referer": "http://console.internal:8090/campaigns/c"}
    assert guard.refusal(same, "n1", token) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "http://console.internal:8091"},  # another port: same site, not same origin
        {"origin": "null"},  # sandboxed frames, privacy redirects
        {"referer": "http://evil.example/page"},
    ],
)
def test_another_origin_is_refused_even_with_a_good_token(
    guard: CsrfGuard, headers: dict[str, str]
) -> None:
    why = guard.refusal({**HOST, **headers}, "n1", guard.sign("n1"))
    assert why is not None and "another site" in why


@pytest.mark.parametrize(
    ("nonce", "token"),
    [
        ("n1", None),
        ("n1", ""),
        (None, "x"),
        ("n1", "0" * 64),
        ("n2", "sign:n1"),  # a token for another nonce
        ("n1", "é"),  # not ASCII: refused, not an error
        ("n1", "other-console"),  # signed under another secret
    ],
)
def test_a_missing_or_foreign_token_is_refused(
    guard: CsrfGuard, nonce: str | None, token: str | None
) -> None:
    if token == "sign:n1":
        token = guard.sign("n1")
    elif token == "other-console":
        token = CsrfGuard(secret=b"t" * 32).sign("n1")
    origin = {"origin": "http://console.internal:8090"}
    why = guard.refusal({**HOST, **origin}, nonce, token)
    assert why is not None and "stale" in why


def test_secrets_and_nonces() -> None:
    with pytest.raises(ValueError):
        CsrfGuard(secret=b"short")
    assert CsrfGuard().sign("n") != CsrfGuard().sign("n")  # a secret per console
    assert CsrfGuard.new_nonce() != CsrfGuard.new_nonce()
