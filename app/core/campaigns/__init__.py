"""Campaign evidence: request values, pivot keys, pivot state, evidence families, union-find."""

from __future__ import annotations

from app.campaigns.evidence import Evidence, homogeneity
from app.campaigns.pivot_state import PivotState
from app.campaigns.unionfind import UnionFind

__all__ = ["Evidence", "PivotState", "UnionFind", "homogeneity"]
