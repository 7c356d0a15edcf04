from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import DetectionSettings, Settings


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


def test_dead_letter_cap_matches_the_decoder_default() -> None:
    from app.events.decode import DEFAULT_MAX_DEAD_LETTER_BYTES

    assert Settings().max_dead_letter_bytes == DEFAULT_MAX_DEAD_LETTER_BYTES
    with pytest.raises(ValidationError):
        Settings(max_dead_letter_bytes=10)
