"""Recall at fixed false-positive operating points (pure, no I/O).

An operating point is the best a detector does while alerting at most a given share of
the active benign accounts: hydrawatch by raising a threshold on its alerts' ``score``;
a baseline, which has no score, by the best of a sweep over its parameters. Recall is
the share of campaign accounts alerted within 24 h of their first campaign request
(:func:`~app.tools.evaluate.score.recall_within`), overall and per campaign group.

The false-positive rate comes with a one-sided 95% Clopper-Pearson upper bound: with
``n`` benign accounts and none alerted it is about ``3 / n`` — the resolution a run has.

>>> round(fp_upper_bound(0, 20_000), 6), round(fp_upper_bound(5, 20_000), 6)
(0.00015, 0.000526)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from app.tools.evaluate.score import Flag, GroundTruth, recall_within

__all__ = ["FP_TARGETS", "fp_upper_bound", "scored_points", "swept_points"]

#: The operating points of the report: 0.01%, 0.05% and 0.1% of benign accounts.
FP_TARGETS: tuple[float, ...] = (0.0001, 0.0005, 0.001)
_DAY_MS = 86_400_000


def _binom_cdf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0 if k < n else 1.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for j in range(k + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
        total += math.exp(log_term + j * lp + (n - j) * lq)
    return min(1.0, total)


def fp_upper_bound(k: int, n: int, *, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate observed as ``k`` of ``n``."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = k / n, 1.0
    for _ in range(80):  # P(X <= k; p) falls with p: bisect for alpha
        mid = (lo + hi) / 2
        if _binom_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def _benign_and_campaign(truth: GroundTruth) -> tuple[list[str], dict[str, list[str]]]:
    benign = []
    groups: dict[str, list[str]] = defaultdict(list)
    for a, lab in truth.labels.items():
        if lab.campaign_id is None:
            if a in truth.active_accounts:
                benign.append(a)
        elif lab.campaign_first_ms is not None:
            groups[lab.group].append(a)
    return benign, groups


def _account_flags(flags: Iterable[Flag], truth: GroundTruth) -> dict[str, list[Flag]]:
    """Account alerts per account, in time order; a campaign account's only from its first
    campaign request on (as :func:`~app.tools.evaluate.score.first_account_flags`)."""
    out: dict[str, list[Flag]] = defaultdict(list)
    for f in sorted(flags, key=lambda f: f.ts_ms):
        if f.entity_type != "account":
            continue
        lab = truth.labels.get(f.entity_id)
        since = lab.campaign_first_ms if lab is not None and lab.campaign_id else None
        if since is None or f.ts_ms >= since:
            out[f.entity_id].append(f)
    return out


def _recall(
    first_ms: dict[str, int], groups: dict[str, list[str]], truth: GroundTruth
) -> dict[str, Any]:
    by_group = {}
    hit_all = eligible_all = 0
    for g, members in sorted(groups.items()):
        starts = {a: truth.labels[a].campaign_first_ms for a in members}
        hit, eligible = recall_within(
            members, starts, first_ms, horizon_ms=_DAY_MS, end_ms=truth.end_ms
        )
        by_group[g] = hit / eligible if eligible else None
        hit_all += hit
        eligible_all += eligible
    return {
        "recall_24h": hit_all / eligible_all if eligible_all else None,
        "recall_24h_by_group": by_group,
    }


def _point(
    target: float,
    benign: Sequence[str],
    flagged_benign: int,
    first_ms: dict[str, int],
    groups: dict[str, list[str]],
    truth: GroundTruth,
    **extra: Any,
) -> dict[str, Any]:
    n = len(benign)
    return {
        "fp_target": target,
        **extra,
        "benign_accounts": n,
        "benign_flagged": flagged_benign,
        "fp_rate": flagged_benign / n if n else 0.0,
        "fp_upper_95": fp_upper_bound(flagged_benign, n),
        **_recall(first_ms, groups, truth),
    }


def scored_points(
    flags: Iterable[Flag], truth: GroundTruth, *, targets: Sequence[float] = FP_TARGETS
) -> list[dict[str, Any]]:
    """Operating points of a detector with a score: the lowest threshold at which at most
    ``target`` of the benign accounts have an account alert scoring at or above it."""
    benign, groups = _benign_and_campaign(truth)
    per_account = _account_flags(flags, truth)
    benign_max = sorted(
        (max(f.score for f in per_account[a]) for a in benign if a in per_account),
        reverse=True,
    )
    out = []
    for target in targets:
        allowed = math.floor(target * len(benign) + 1e-9)
        if allowed >= len(benign_max):
            threshold = -math.inf
        else:  # just above the score of the first benign account that must not pass
            threshold = math.nextafter(benign_max[allowed], math.inf)
        first_ms = {}
        for a, fs in per_account.items():
            for f in fs:
                if f.score >= threshold:
                    first_ms[a] = f.ts_ms
                    break
        flagged = sum(1 for v in benign_max if v >= threshold)
        out.append(
            _point(
                target,
                benign,
                flagged,
                first_ms,
                groups,
                truth,
                threshold=None if threshold == -math.inf else threshold,
            )
        )
    return out


def swept_points(
    runs: Sequence[tuple[str, list[Flag]]],
    truth: GroundTruth,
    *,
    targets: Sequence[float] = FP_TARGETS,
) -> list[dict[str, Any]]:
    """Operating points of a detector without a score: per target, the parameter setting
    (``runs``: a description and its flags) with the best recall among those within it;
    ``setting`` is None when none is."""
    benign, groups = _benign_and_campaign(truth)
    benign_set = set(benign)
    evaluated = []
    for setting, flags in runs:
        per_account = _account_flags(flags, truth)
        first_ms = {a: fs[0].ts_ms for a, fs in per_account.items() if fs}
        flagged = sum(1 for a in first_ms if a in benign_set)
        evaluated.append((setting, flagged, first_ms))
    out = []
    for target in targets:
        best: dict[str, Any] | None = None
        for setting, flagged, first_ms in evaluated:
            if benign and flagged / len(benign) > target:
                continue
            p = _point(target, benign, flagged, first_ms, groups, truth, setting=setting)
            if best is None or (p["recall_24h"] or 0.0) > (best["recall_24h"] or 0.0):
                best = p
        if best is None:
            best = _point(target, benign, 0, {}, groups, truth, setting=None)
        out.append(best)
    return out
