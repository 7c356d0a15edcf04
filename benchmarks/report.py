"""Where the benchmarks write: one timestamped JSON file per run in ``benchmarks/results/``."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "header", "write_result"]

RESULTS = Path(__file__).with_name("results")


def header() -> dict[str, Any]:
    """When and where a result was measured."""
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def write_result(kind: str, result: dict[str, Any]) -> Path:
    """Write ``results/<kind>-<UTC stamp>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{kind}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
