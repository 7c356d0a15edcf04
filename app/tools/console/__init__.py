"""The analyst console: a read-only web view of the alert topic.

Pure core (no HTTP, no Kafka): :mod:`~app.console.store` (what was read),
:mod:`~app.console.links` (which indicators tie accounts, from the links topic),
:mod:`~app.console.campaigns`, :mod:`~app.console.accounts`,
:mod:`~app.console.entities`, :mod:`~app.console.timeline`, :mod:`~app.console.graph`,
:mod:`~app.console.table` (view models) and :mod:`~app.console.charts` (plotly
figures). Around it: :mod:`~app.console.web` (Starlette + Jinja2),
:mod:`~app.console.auth` (loopback or token), :mod:`~app.console.reader` (Kafka) and
:mod:`~app.console.serve` (``hydrawatch console``).
"""

from __future__ import annotations

from app.console.store import AlertStore, ConsoleSource, Snapshot
from app.console.web import create_app

__all__ = ["AlertStore", "ConsoleSource", "Snapshot", "create_app"]
