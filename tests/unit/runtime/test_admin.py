from __future__ import annotations

import itertools

import pytest

from app.runtime.admin import security_kwargs
from app.runtime.config import Settings


def test_plaintext_and_none_need_no_options() -> None:
    assert security_kwargs(None) == {}
    assert security_kwargs(Settings()) == {}
    assert security_kwargs(Settings(ssl_cafile="/ca.pem")) == {}


@pytest.mark.parametrize(
    ("protocol", "mechanism", "cafile"),
    list(
        itertools.product(
            ["SASL_PLAINTEXT", "SASL_SSL"],
            [None, "PLAIN", "plain", "SCRAM-SHA-256", "SCRAM-SHA-512"],
            [None, "/ca.pem"],
        )
    ),
)
def test_every_sasl_combination_passes_mechanism_and_credentials(
    protocol: str, mechanism: str | None, cafile: str | None
) -> None:
    s = Settings(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="svc",
        sasl_password="pw",  # type: ignore[arg-type]
        ssl_cafile=cafile,
    )
    expected: dict[str, object] = {
        "security_protocol": protocol,
        "sasl_mechanism": (mechanism or "PLAIN").upper(),
        "sasl_plain_username": "svc",
        "sasl_plain_password": "pw",
    }
    if cafile and protocol == "SASL_SSL":
        expected["ssl_cafile"] = cafile
    assert security_kwargs(s) == expected
    assert s.effective_sasl_mechanism == expected["sasl_mechanism"]


@pytest.mark.parametrize("cafile", [None, "/ca.pem"])
def test_tls_only(cafile: str | None) -> None:
    s = Settings(security_protocol="SSL", ssl_cafile=cafile)
    expected = {"security_protocol": "SSL"} | ({"ssl_cafile": cafile} if cafile else {})
    assert security_kwargs(s) == expected
    assert s.effective_sasl_mechanism is None


def test_kafka_python_accepts_the_options() -> None:
    """The options build a client config kafka-python takes (no connection is made)."""
    from kafka.net.sasl import get_sasl_mechanism

    for mechanism in (None, "SCRAM-SHA-512"):
        kw = security_kwargs(
            Settings(
                security_protocol="SASL_SSL",
                sasl_mechanism=mechanism,
                sasl_username="svc",
                sasl_password="pw",  # type: ignore[arg-type]
            )
        )
        mech = get_sasl_mechanism(kw["sasl_mechanism"])(host="127.0.0.1", **kw)
        if mechanism is None:
            assert mech.auth_bytes() == b"svc\0svc\0pw"
