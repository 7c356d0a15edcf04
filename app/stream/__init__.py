"""The faust app: topics and thin agents (decode → core → emit). No detection logic here."""

from __future__ import annotations

from app.stream.app import create_app
from app.stream.worker import run_worker

__all__ = ["create_app", "run_worker"]
