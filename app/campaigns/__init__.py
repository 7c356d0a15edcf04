"""Campaign linkage: accounts linked by shared infrastructure and behaviour, scored as clusters."""

from __future__ import annotations

from app.campaigns.evidence import Evidence, homogeneity
from app.campaigns.linker import CampaignLinker
from app.campaigns.unionfind import UnionFind

__all__ = ["CampaignLinker", "Evidence", "UnionFind", "homogeneity"]
