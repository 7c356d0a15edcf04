"""Score detection against ground truth: campaign time-to-detect, account recall,
false positives per hard-negative group, alert volume and precision, baselines."""

from __future__ import annotations

from app.tools.evaluate.baselines import PerAccountRateBaseline, SubnetDistinctAccountsBaseline
from app.tools.evaluate.labels import Labels, load_labels
from app.tools.evaluate.score import Flag, GroundTruth, score_flags

__all__ = [
    "Flag",
    "GroundTruth",
    "Labels",
    "PerAccountRateBaseline",
    "SubnetDistinctAccountsBaseline",
    "load_labels",
    "score_flags",
]
