"""Operating points on hand-made flags: thresholds from benign scores, sweeps, bounds."""

from __future__ import annotations

import numpy as np
import pytest

from app.tools.evaluate.labels import Label
from app.tools.evaluate.operating import fp_upper_bound, scored_points, swept_points
from app.tools.evaluate.score import Flag, GroundTruth

H = 3_600_000


def truth(n_benign: int = 1_000) -> GroundTruth:
    labels = {f"c{i}": Label("camp", "aged", 10 * H) for i in range(10)}
    labels |= {f"b{i}": Label(None, "regular", None) for i in range(n_benign)}
    return GroundTruth(
        labels=labels,
        start_ms=0,
        end_ms=72 * H,
        campaign_event_ts={"camp": np.array([10 * H], dtype=np.int64)},
        active_accounts=set(labels),
    )


def flag(account: str, score: float, ts: int = 12 * H) -> Flag:
    return Flag(ts, "account", account, "high", "hydrawatch", score=score)


def test_the_threshold_admits_no_more_benign_accounts_than_the_target() -> None:
    # campaign accounts score 0.6..0.9; two benign accounts score 0.95 and 0.71
    flags = [flag(f"c{i}", 0.6 + 0.3 * i / 9) for i in range(10)]
    flags += [flag("b0", 0.95), flag("b1", 0.71), flag("b1", 0.2)]
    p1, p2, p3 = scored_points(flags, truth(), targets=(0.0, 0.001, 0.002))
    assert p1["benign_flagged"] == 0 and p1["recall_24h"] == 0.0  # above 0.95: nothing
    assert p2["benign_flagged"] == 1 and p2["threshold"] > 0.71  # b0 only
    assert p2["recall_24h"] == pytest.approx(0.6)  # 0.733.. to 0.9 pass
    assert p3["benign_flagged"] == 2 and p3["threshold"] is None and p3["recall_24h"] == 1.0


def test_a_late_high_score_counts_only_if_within_24_h() -> None:
    flags = [flag("c0", 0.2, ts=11 * H), flag("c0", 0.9, ts=40 * H), flag("b0", 0.5)]
    (p,) = scored_points(flags, truth(), targets=(0.0,))
    assert p["threshold"] > 0.5
    assert p["recall_24h_by_group"] == {"aged": 0.0}  # its 0.9 came 30 h after its start


def test_a_sweep_picks_the_best_setting_within_the_target() -> None:
    loose = [flag(f"c{i}", 1.0) for i in range(10)] + [flag(f"b{i}", 1.0) for i in range(5)]
    tight = [flag(f"c{i}", 1.0) for i in range(4)]
    p_strict, p_loose = swept_points(
        [("loose", loose), ("tight", tight)], truth(), targets=(0.001, 0.01)
    )
    assert p_strict["setting"] == "tight" and p_strict["recall_24h"] == pytest.approx(0.4)
    assert p_loose["setting"] == "loose" and p_loose["recall_24h"] == 1.0


def test_fp_upper_bound_matches_the_rule_of_three_and_grows_with_k() -> None:
    assert fp_upper_bound(0, 30_000) == pytest.approx(3 / 30_000, rel=0.01)
    assert fp_upper_bound(0, 100) < fp_upper_bound(1, 100) < fp_upper_bound(5, 100)
    assert fp_upper_bound(10, 10) == 1.0


def test_the_table_says_which_knob_gave_each_point() -> None:
    from app.tools.evaluate.table import operating_rows

    t = truth()
    flags = [flag("c0", 0.9), flag("b0", 0.5)]
    report = {
        "name": "s",
        "operating_points": {
            "hydrawatch": scored_points(flags, t, targets=(0.0, 0.001)),
            "rate": swept_points([("loose", [flag("b0", 1.0), flag("b1", 1.0)])], t),
        },
    }
    knobs = [row[-1] for row in operating_rows(report)]
    assert knobs[0].startswith("score ≥ 0.5") and knobs[1] == "any alert"
    assert knobs[2:] == ["no setting within the target"] * 3
