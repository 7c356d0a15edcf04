"""The analyst console: a web view of the alert topic, read-only unless it may record verdicts.

Pure view models (no HTTP, no Kafka): :mod:`~app.tools.console.store` (what was read),
:mod:`~app.tools.console.links` (which indicators tie accounts, from the links topic),
:mod:`~app.tools.console.verdicts` (the verdicts topic's view and the audit),
:mod:`~app.tools.console.campaigns`, :mod:`~app.tools.console.accounts`,
:mod:`~app.tools.console.entities`, :mod:`~app.tools.console.timeline`,
:mod:`~app.tools.console.graph`, :mod:`~app.tools.console.table` (view models) and
:mod:`~app.tools.console.charts` (plotly figures). Around it:
:mod:`~app.tools.console.web` (Starlette + Jinja2), :mod:`~app.tools.console.auth`
(loopback or token), :mod:`~app.tools.console.csrf` (the forms' guard),
:mod:`~app.tools.console.sink` (where verdicts are written),
:mod:`~app.tools.console.reader` (Kafka) and :mod:`~app.tools.console.serve`
(``hydrawatch console``).
"""

from __future__ import annotations

from app.tools.console.sink import KafkaVerdictSink, MemoryVerdictSink, VerdictSink
from app.tools.console.store import AlertStore, ConsoleSource, Snapshot
from app.tools.console.web import create_app

__all__ = [
    "AlertStore",
    "ConsoleSource",
    "KafkaVerdictSink",
    "MemoryVerdictSink",
    "Snapshot",
    "VerdictSink",
    "create_app",
]
