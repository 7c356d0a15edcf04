"""Tooling around the detector: traffic simulation, evaluation, the offline ``detect``,
the live demo, the console, the worker launcher and the embedded broker.

None of it is on the deployed event path: :mod:`app.core` holds the detection and
:mod:`app.runtime` runs it over Kafka.
"""

from __future__ import annotations

__all__: list[str] = []
