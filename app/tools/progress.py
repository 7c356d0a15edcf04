"""Progress of long offline runs (``detect``, ``evaluate``) on a terminal.

Shown only when the console writes to a terminal; elsewhere (a pipe, a file, CI logs)
:class:`EventProgress` does nothing, so output stays line by line.

>>> from io import StringIO
>>> from rich.console import Console
>>> with EventProgress(Console(file=StringIO()), description="detect") as p:
...     p.update(events=10, done=5, total=10)
>>> p.enabled
False
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

__all__ = ["EventProgress"]


class EventProgress:
    """Events so far, events/s and (when the total is known) a bar and the ETA."""

    def __init__(self, console: Console, *, description: str) -> None:
        self.enabled = console.is_terminal
        self._t0 = time.monotonic()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[events]:>12,} events  {task.fields[rate]:>9,.0f} events/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._description = description

    @property
    def console(self) -> Console:
        """Print through this while the progress is shown (the lines go above it)."""
        return self._progress.console

    def __enter__(self) -> EventProgress:
        if self.enabled:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=None, events=0, rate=0.0)
        return self

    def update(
        self,
        *,
        events: int,
        done: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        """``events`` so far; ``done`` of ``total`` units (bytes, events) for the ETA.

        A new ``description`` starts a new phase: its rate counts from now.
        """
        if self._task is None:
            return
        if description is not None and description != self._description:
            self._description = description
            self._t0 = time.monotonic()
            self._progress.reset(self._task, total=total, description=description)
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        self._progress.update(
            self._task,
            completed=done,
            total=total,
            events=events,
            rate=events / elapsed,
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None
