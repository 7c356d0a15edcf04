"""hydrawatch: streaming detection of LLM distillation campaigns.

The detection core (``app.events``, ``app.windows``, ``app.features``,
``app.detectors``, ``app.campaigns``, ``app.alerts`` and the keyed stages in
``app.stages``) imports neither faust nor Kafka; ``app.stream`` runs each stage as a
faust agent over Kafka topics and ``app.offline`` runs the same stages over files.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
