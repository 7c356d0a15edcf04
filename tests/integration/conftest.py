"""Integration tests share the broker fixtures of ``tests/conftest.py``."""

from __future__ import annotations

from tests.conftest import PARTITIONS, Topics

__all__ = ["PARTITIONS", "Topics"]
