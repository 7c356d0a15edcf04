"""hydrawatch: streaming detection of LLM distillation campaigns.

The tree shows the architecture: :mod:`app.core` is the pure detection core (events,
windows, features, detectors, campaigns, alerts and the keyed stages; it imports neither
faust, Kafka nor prometheus_client), :mod:`app.runtime` runs each stage as a faust agent
over Kafka topics (driver, checkpoints, topic admin, metrics, config), :mod:`app.tools`
holds the tooling (``detect`` over files, simulate, evaluate, console, demo, launcher,
embedded broker) and :mod:`app.enforce` is the rate-limiter service of its own.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
