"""Timeline PNG: campaign vs benign traffic per hour, alerts, detection moments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.tools.evaluate.score import Flag

__all__ = ["timeline_png"]

_HOUR_MS = 3_600_000


def timeline_png(
    path: Path,
    start_ms: int,
    hourly: np.ndarray,
    flags: dict[str, list[Flag]],
    report: dict[str, Any],
    *,
    title: str,
) -> None:
    """``hourly``: per hour since ``start_ms``, [benign, campaign] requests."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not len(hourly):
        return
    t0 = start_ms
    hours = len(hourly)
    benign = hourly[:, 0]
    campaign = hourly[:, 1]
    x = np.arange(hours)
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    ax1.plot(x, benign, label="benign requests/h", color="tab:blue")
    ax1.plot(x, campaign, label="campaign requests/h", color="tab:red")
    colours = {
        "hydrawatch": "black",
        "baseline_account_rate": "tab:orange",
        "baseline_subnet_accounts": "tab:green",
    }
    for det, fl in flags.items():
        counts = np.zeros(hours)
        for f in fl:
            h = int((f.ts_ms - t0) // _HOUR_MS)
            if 0 <= h < hours:
                counts[h] += 1
        ax2.step(x, counts, where="post", label=f"{det} alerts/h", color=colours.get(det))
        for cid, c in report["detectors"][det]["campaigns"].items():
            if c["first_alert_ms"] is not None:
                xh = (c["first_alert_ms"] - t0) / _HOUR_MS
                ax1.axvline(xh, color=colours.get(det), ls="--", lw=1)
            if det == "hydrawatch":
                ax1.axvline(
                    (c["start_ms"] - t0) / _HOUR_MS,
                    color="tab:red",
                    ls=":",
                    lw=1,
                    label=f"{cid} start",
                )
    ax1.set_ylabel("requests per hour")
    ax1.set_title(f"{title}: traffic, campaign start (dotted), first detection (dashed)")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.set_ylabel("alerts per hour")
    ax2.set_xlabel("hours since start")
    ax2.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
