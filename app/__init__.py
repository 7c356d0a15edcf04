"""hydrawatch: streaming detection of LLM distillation campaigns.

The detection core (``app.events``, ``app.windows``, ``app.features``,
``app.detectors``, ``app.alerts``, ``app.engine``) imports neither faust nor
Kafka; ``app.stream`` wires it to Kafka and ``app.offline`` runs it over files.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
