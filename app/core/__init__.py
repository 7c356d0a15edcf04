"""The pure detection core: records in, records out, no I/O.

:mod:`app.core.events` (request/alert models, decoding), :mod:`app.core.windows`
(event-time windows), :mod:`app.core.features`, :mod:`app.core.detectors`,
:mod:`app.core.campaigns` (pivot state, evidence, union-find), :mod:`app.core.alerts`
(every AlertEvent built here) and the keyed stages in :mod:`app.core.stages`. Nothing
under this package imports faust, Kafka or prometheus_client
(``tests/unit/test_surface.py`` checks it); :mod:`app.runtime` runs the stages as faust
agents and :mod:`app.tools.offline` runs them in-process over files.
"""

from __future__ import annotations

__all__: list[str] = []
