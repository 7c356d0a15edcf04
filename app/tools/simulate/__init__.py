"""Traffic generators: benign populations and injected abusive groups, with ground truth."""

from __future__ import annotations

from app.tools.simulate.basic import BasicTraffic, generate_basic

__all__ = ["BasicTraffic", "generate_basic"]
