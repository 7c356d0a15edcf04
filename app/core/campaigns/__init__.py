"""Campaign evidence: request values, pivot keys, pivot state, evidence families, union-find."""

from __future__ import annotations

from app.core.campaigns.evidence import Evidence, homogeneity
from app.core.campaigns.pivot_state import PivotState
from app.core.campaigns.unionfind import UnionFind

__all__ = ["Evidence", "PivotState", "UnionFind", "homogeneity"]
