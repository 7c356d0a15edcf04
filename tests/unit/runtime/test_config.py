from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from app.runtime.config import DetectionSettings, Settings


def test_env_and_nested_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYDRAWATCH_BROKER", "kafka://k1:9092,k2:9092")
    monkeypatch.setenv("HYDRAWATCH_DETECTION__WINDOW_MS", "300000")
    monkeypatch.setenv("HYDRAWATCH_MAX_FUTURE_SKEW_MS", "none")
    s = Settings()
    assert s.bootstrap_servers == "k1:9092,k2:9092"
    assert s.detection.window_ms == 300_000
    assert s.max_future_skew_ms is None


def test_frozen_and_strict() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.broker = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Settings(no_such_option=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DetectionSettings(window_ms=0)


def test_secret_not_in_repr() -> None:
    s = Settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="hunter2",
    )  # type: ignore[arg-type]
    assert "hunter2" not in repr(s)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize(
    ("username", "password", "missing"),
    [
        (None, None, "sasl_username (HYDRAWATCH_SASL_USERNAME) and sasl_password"),
        ("u", None, "sasl_password (HYDRAWATCH_SASL_PASSWORD)"),
        (None, "p", "sasl_username (HYDRAWATCH_SASL_USERNAME)"),
        ("", "p", "sasl_username"),
        ("u", "", "sasl_password"),
    ],
)
def test_sasl_needs_username_and_password(
    protocol: str, username: str | None, password: str | None, missing: str
) -> None:
    with pytest.raises(ValidationError, match=rf"{protocol} needs {re.escape(missing)}"):
        Settings(
            security_protocol=protocol,
            sasl_username=username,
            sasl_password=password,  # type: ignore[arg-type]
        )


def test_sasl_mechanism_defaults_to_plain_and_must_take_a_password() -> None:
    creds: dict[str, object] = {"sasl_username": "u", "sasl_password": "p"}
    for protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        s = Settings(security_protocol=protocol, **creds)  # type: ignore[arg-type]
        assert s.effective_sasl_mechanism == "PLAIN"
        s = Settings(security_protocol=protocol, sasl_mechanism="scram-sha-256", **creds)  # type: ignore[arg-type]
        assert s.effective_sasl_mechanism == "SCRAM-SHA-256"
    for protocol in ("PLAINTEXT", "SSL"):
        assert Settings(security_protocol=protocol).effective_sasl_mechanism is None
    with pytest.raises(ValidationError, match=r"GSSAPI.*not supported.*PLAIN, SCRAM-SHA-256"):
        Settings(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI", **creds)  # type: ignore[arg-type]


def test_sasl_validation_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYDRAWATCH_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="needs sasl_username"):
        Settings()
    monkeypatch.setenv("HYDRAWATCH_SASL_USERNAME", "u")
    monkeypatch.setenv("HYDRAWATCH_SASL_PASSWORD", "p")
    assert Settings().effective_sasl_mechanism == "PLAIN"


def test_dead_letter_cap_matches_the_decoder_default() -> None:
    from app.core.events.decode import DEFAULT_MAX_DEAD_LETTER_BYTES

    assert Settings().max_dead_letter_bytes == DEFAULT_MAX_DEAD_LETTER_BYTES
    with pytest.raises(ValidationError):
        Settings(max_dead_letter_bytes=10)
