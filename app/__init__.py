"""hydrawatch: streaming detection of LLM distillation campaigns.

The detection core (``app.core.events``, ``app.core.windows``, ``app.core.features``,
``app.core.detectors``, ``app.core.campaigns``, ``app.core.alerts`` and the keyed stages in
``app.core.stages``) imports neither faust nor Kafka; ``app.runtime`` runs each stage as a
faust agent over Kafka topics and ``app.tools.offline`` runs the same stages over files.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
