"""Window state → feature dicts, per entity type."""

from __future__ import annotations

from app.core.features.account import ACCOUNT_FEATURES, AccountWindow, account_features

__all__ = ["ACCOUNT_FEATURES", "AccountWindow", "account_features"]
