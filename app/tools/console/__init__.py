"""The analyst console: a read-only web view of the alert topic.

Pure view models (no HTTP, no Kafka): :mod:`~app.tools.console.store` (what was read),
:mod:`~app.tools.console.links` (which indicators tie accounts, from the links topic),
:mod:`~app.tools.console.campaigns`, :mod:`~app.tools.console.accounts`,
:mod:`~app.tools.console.entities`, :mod:`~app.tools.console.timeline`,
:mod:`~app.tools.console.graph`, :mod:`~app.tools.console.table` (view models) and
:mod:`~app.tools.console.charts` (plotly figures). Around it:
:mod:`~app.tools.console.web` (Starlette + Jinja2), :mod:`~app.tools.console.auth`
(loopback or token), :mod:`~app.tools.console.reader` (Kafka) and
:mod:`~app.tools.console.serve` (``hydrawatch console``).
"""

from __future__ import annotations

from app.tools.console.store import AlertStore, ConsoleSource, Snapshot
from app.tools.console.web import create_app

__all__ = ["AlertStore", "ConsoleSource", "Snapshot", "create_app"]
