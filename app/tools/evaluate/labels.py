"""Ground-truth labels: ``account_id,campaign_id,group,campaign_first_ms``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Label", "Labels", "load_labels"]


@dataclass(frozen=True, slots=True)
class Label:
    campaign_id: str | None
    group: str
    campaign_first_ms: int | None


Labels = dict[str, Label]


def load_labels(path: Path) -> Labels:
    """Read a labels CSV; ``group`` and ``campaign_first_ms`` are optional columns."""
    out: Labels = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "account_id" not in reader.fieldnames:
            raise ValueError(f"{path}: labels need an account_id column")
        for row in reader:
            campaign = (row.get("campaign_id") or "").strip() or None
            first = (row.get("campaign_first_ms") or "").strip()
            out[row["account_id"]] = Label(
                campaign_id=campaign,
                group=(row.get("group") or "").strip() or ("campaign" if campaign else "benign"),
                campaign_first_ms=int(first) if first else None,
            )
    return out
