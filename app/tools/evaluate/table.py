"""The evaluation table printed by ``hydrawatch evaluate`` (rich) and as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

__all__ = [
    "benign_rows",
    "loop_rows",
    "markdown_benign_table",
    "markdown_loop_table",
    "markdown_operating_table",
    "markdown_table",
    "operating_rows",
    "rich_benign_table",
    "rich_loop_table",
    "rich_operating_table",
    "rich_table",
    "rows",
]

_COLUMNS = (
    "scenario",
    "detector",
    "detected",
    "time to 1st alert",
    "exch. before alert",
    "1st-day share before",
    "accts flagged 1h",
    "accts flagged 24h",
    "new members ≤ 1h",
    "benign FP rate",
    "hard-neg high/crit",
    "alerts/day",
    "precision",
)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _pct3(x: float) -> str:
    return f"{100 * x:.3f}%"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _joiners(j: dict[str, Any] | None) -> str:
    """Share of the members first seen after the first alert flagged within 1 h (of n)."""
    if not j or not j["accounts"]:
        return "-"
    return f"{_pct(j['flagged_within_1h'])} of {j['accounts']:,}"


def _campaign_name(cid: str, group: str | None) -> str:
    """The campaign id, with its label group (variant) when the id does not say it."""
    return cid if not group or cid.startswith(group) else f"{cid}: {group}"


RowsOf = Callable[[dict[str, Any]], list[list[str]]]


def _rich(
    title: str, columns: Sequence[str], rows_of: RowsOf, reports: list[dict[str, Any]]
) -> Table:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in reports:
        for row in rows_of(r):
            t.add_row(*row)
    return t


def _markdown(columns: Sequence[str], rows_of: RowsOf, reports: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in reports:
        for row in rows_of(r):
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def rows(report: dict[str, Any]) -> list[list[str]]:
    out = []
    for det, s in report["detectors"].items():
        for cid, c in s["campaigns"].items():
            hard_high = sum(
                g["high_or_critical"]
                for name, g in s["benign"]["by_group"].items()
                if name != "regular"
            )
            per_day = s["alerts"]["per_day"]
            out.append(
                [
                    f"{report['name']} ({_campaign_name(cid, c.get('group'))})",
                    det,
                    "yes" if c["detected"] else "no",
                    _dur(c["time_to_detect_s"]),
                    f"{c['exchanges_before_alert']:,} ({_pct(c['share_before_alert'])})",
                    _pct(c["first_day_share_before_alert"]),
                    _pct(c["flagged_within_1h"]["share"]),
                    _pct(c["flagged_within_24h"]["share"]),
                    _joiners(c.get("new_members_after_first_alert")),
                    f"{_pct(s['benign']['fp_rate'])} ({s['benign']['flagged']})",
                    str(hard_high),
                    f"{sum(per_day) / max(len(per_day), 1):.0f}",
                    _pct(s["alerts"]["precision"]),
                ]
            )
    return out


def rich_table(reports: list[dict[str, Any]]) -> Table:
    return _rich("hydrawatch evaluation", _COLUMNS, rows, reports)


def markdown_table(reports: list[dict[str, Any]]) -> str:
    return _markdown(_COLUMNS, rows, reports)


_BENIGN_COLUMNS = (
    "scenario",
    "benign group",
    "active accts",
    "flagged (FP rate)",
    "high/crit",
    "throttle/block",
)
#: The detector whose benign groups are tabulated (the baselines' are in the JSON).
_BENIGN_DETECTOR = "hydrawatch"


def benign_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per benign label group (``regular``, each hard negative and look-alike)."""
    s = report["detectors"].get(_BENIGN_DETECTOR)
    if s is None:
        return []
    out = []
    for name, g in s["benign"]["by_group"].items():
        out.append(
            [
                report["name"],
                name,
                f"{g['accounts']:,}",
                f"{g['flagged']} ({_pct(g['rate'])})",
                str(g["high_or_critical"]),
                str(g.get("enforced", 0)),
            ]
        )
    return out


def rich_benign_table(reports: list[dict[str, Any]]) -> Table:
    return _rich(f"benign groups ({_BENIGN_DETECTOR})", _BENIGN_COLUMNS, benign_rows, reports)


def markdown_benign_table(reports: list[dict[str, Any]]) -> str:
    return _markdown(_BENIGN_COLUMNS, benign_rows, reports)


_OPERATING_COLUMNS = (
    "scenario",
    "detector",
    "FP target",
    "benign flagged (rate, 95% upper)",
    "recall ≤ 24 h",
    "per campaign group",
    "threshold / setting",
)


def operating_rows(report: dict[str, Any]) -> list[list[str]]:
    """Recall at each fixed false-positive operating point, per detector."""
    out = []
    for detector, points in report.get("operating_points", {}).items():
        for p in points:
            if "threshold" in p:
                t = p["threshold"]
                knob = "any alert" if t is None else f"score ≥ {t:.4f}"
            else:
                knob = p["setting"] or "no setting within the target"
            groups = ", ".join(
                f"{g} {_pct(r)}" for g, r in sorted(p["recall_24h_by_group"].items())
            )
            out.append(
                [
                    report["name"],
                    detector,
                    _pct3(p["fp_target"]),
                    f"{p['benign_flagged']} of {p['benign_accounts']:,} "
                    f"({_pct3(p['fp_rate'])}, ≤ {_pct3(p['fp_upper_95'])})",
                    _pct(p["recall_24h"]),
                    groups,
                    knob,
                ]
            )
    return out


def rich_operating_table(reports: list[dict[str, Any]]) -> Table:
    return _rich(
        "recall at fixed false-positive rates", _OPERATING_COLUMNS, operating_rows, reports
    )


def markdown_operating_table(reports: list[dict[str, Any]]) -> str:
    return _markdown(_OPERATING_COLUMNS, operating_rows, reports)


_LOOP_COLUMNS = (
    "scenario",
    "partitions",
    "heads reusing (flagged)",
    "reusing: median to alert",
    "reusing ≤ 1h",
    "fresh (flagged)",
    "fresh: median to alert",
    "fresh ≤ 1h",
    "served after 1st detection",
    "floor (1 per new account)",
    "benign enforced",
)


def _minutes(m: float | None) -> str:
    return "-" if m is None else (f"{m:.1f} min" if m < 120 else f"{m / 60:.1f} h")


def loop_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per closed-loop run (``hydrawatch evaluate --closed-loop``)."""
    reuse, fresh = report["heads_reusing"], report["heads_fresh"]
    camps = report["campaigns"]
    worst = max((c["leakage"] for c in camps.values()), default=0.0)
    attempted = sum(c["requests_attempted"] for c in camps.values())
    after = sum(c["served_after_detection"] for c in camps.values())
    late = sum(c["accounts_after_detection"] for c in camps.values())
    b = report["benign"]
    return [
        [
            report["scenario"],
            str(report["partitions"]),
            f"{reuse['heads']} ({reuse['flagged']})",
            _minutes(reuse["median_min"]),
            _pct(reuse["flagged_within_1h"]),
            f"{fresh['heads']} ({fresh['flagged']})",
            _minutes(fresh["median_min"]),
            _pct(fresh["flagged_within_1h"]),
            f"{_pct(after / attempted if attempted else 0.0)} (worst {_pct(worst)})",
            _pct(late / attempted if attempted else 0.0),
            f"{b['enforced']} of {b['accounts']:,}",
        ]
    ]


def rich_loop_table(reports: list[dict[str, Any]]) -> Table:
    return _rich("closed loop: enforcement and regrowth", _LOOP_COLUMNS, loop_rows, reports)


def markdown_loop_table(reports: list[dict[str, Any]]) -> str:
    return _markdown(_LOOP_COLUMNS, loop_rows, reports)
