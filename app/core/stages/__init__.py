"""The detection core as keyed stages: account → pivot → campaign (pure: records in, out).

Each stage keeps state per partition of its input and acts only on event time every
upstream partition has passed, so its output depends on the events, not on how many
workers share the partitions, how messages were fetched or batched, or restarts.
"""

from __future__ import annotations

from app.core.stages.account import AccountOutput, AccountStage
from app.core.stages.campaign import CampaignOutput, CampaignStage
from app.core.stages.clock import UpstreamClock
from app.core.stages.local import LocalTopology
from app.core.stages.pivot import PivotOutput, PivotStage

__all__ = [
    "AccountOutput",
    "AccountStage",
    "CampaignOutput",
    "CampaignStage",
    "LocalTopology",
    "PivotOutput",
    "PivotStage",
    "UpstreamClock",
]
