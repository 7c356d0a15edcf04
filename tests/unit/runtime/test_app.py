from __future__ import annotations

import faust

from app.runtime.app import credentials_for
from app.runtime.config import Settings


def test_plaintext_has_no_credentials() -> None:
    assert credentials_for(Settings()) is None


def test_sasl_scram_over_tls() -> None:
    creds = credentials_for(
        Settings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="svc",
            sasl_password="pw",
        )
    )  # type: ignore[arg-type]
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.username == "svc" and creds.password == "pw"
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert creds.ssl_context is not None


def test_tls_only() -> None:
    assert isinstance(credentials_for(Settings(security_protocol="SSL")), faust.SSLCredentials)
