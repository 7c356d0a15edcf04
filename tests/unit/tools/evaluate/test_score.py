"""The evaluator's arithmetic on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from app.tools.evaluate.labels import Label
from app.tools.evaluate.score import Flag, GroundTruth, score_flags

H = 3_600_000


def truth() -> GroundTruth:
    labels = {
        "c1": Label("camp", "hydra", 10 * H),
        "c2": Label("camp", "hydra", 11 * H),
        "c3": Label("camp", "hydra", 60 * H),  # first request < 24 h before the end
        "b1": Label(None, "regular", None),
        "b2": Label(None, "regular", None),
        "n1": Label(None, "university", None),
        "n2": Label(None, "university", None),
    }
    # 10 campaign exchanges at hours 10..19, and 10 more at 40..49.
    ts = np.array([h * H for h in [*range(10, 20), *range(40, 50)]], dtype=np.int64)
    return GroundTruth(
        labels=labels,
        start_ms=0,
        end_ms=72 * H,
        campaign_event_ts={"camp": ts},
        active_accounts=set(labels),
    )


def test_detection_time_and_exchanges_before_alert() -> None:
    flags = [Flag(13 * H, "account", "c1", "high", "d"), Flag(30 * H, "account", "c2", "high", "d")]
    c = score_flags(flags, truth())["campaigns"]["camp"]
    assert c["detected"] and c["time_to_detect_s"] == 3 * 3600
    assert c["exchanges_before_alert"] == 3  # hours 10, 11, 12
    assert c["share_before_alert"] == pytest.approx(3 / 20)
    assert c["first_day_exchanges"] == 10
    assert c["first_day_share_before_alert"] == pytest.approx(3 / 10)


def test_account_recall_windows_and_eligibility() -> None:
    flags = [
        Flag(10 * H + 30 * 60_000, "account", "c1", "high", "d"),
        Flag(30 * H, "account", "c2", "high", "d"),
        Flag(61 * H, "account", "c3", "high", "d"),
    ]
    c = score_flags(flags, truth())["campaigns"]["camp"]
    assert c["flagged_within_1h"] == {"eligible": 3, "flagged": 2, "share": pytest.approx(2 / 3)}
    # c3 started 12 h before the end: not eligible for the 24 h window.
    assert c["flagged_within_24h"] == {"eligible": 2, "flagged": 2, "share": 1.0}
    assert c["accounts_flagged"] == 3
    # c2 (first request 11 h) and c3 (60 h) appear after the first alert (10.5 h)
    assert c["new_members_after_first_alert"] == {
        "accounts": 2,
        "flagged_within_1h": 0.5,  # c3, 1 h after its first request; c2 after 19 h
        "median_delay_s": 19 * 3600.0,
    }


def test_alerts_before_campaign_start_are_not_detections() -> None:
    flags = [Flag(5 * H, "account", "c1", "high", "d")]  # hijacked account, earlier alert
    c = score_flags(flags, truth())["campaigns"]["camp"]
    assert not c["detected"] and c["exchanges_before_alert"] == 20
    assert c["accounts_flagged"] == 0


def test_false_positives_per_group_and_precision() -> None:
    flags = [
        Flag(12 * H, "account", "c1", "medium", "d"),
        Flag(2 * H, "account", "b1", "low", "d"),
        Flag(3 * H, "account", "n1", "critical", "d"),
        Flag(4 * H, "account", "n1", "critical", "d"),
        Flag(50 * H, "subnet", "10.0.0.0/24", "low", "d"),
    ]
    s = score_flags(flags, truth())
    b = s["benign"]
    assert (b["accounts"], b["flagged"], b["fp_rate"]) == (4, 2, 0.5)
    assert b["by_group"]["university"] == {
        "accounts": 2,
        "flagged": 1,
        "high_or_critical": 1,
        "enforced": 0,
        "rate": 0.5,
    }
    assert b["high_or_critical"] == 1
    a = s["alerts"]
    assert a["total"] == 5 and a["per_day"] == [4, 0, 1]
    assert a["precision"] == pytest.approx(1 / 4)  # subnet alerts are not in precision
    assert a["by_entity_type"] == {"account": 4, "subnet": 1}


def test_campaign_alerts_map_to_labelled_campaigns_by_majority() -> None:
    flags = [
        Flag(20 * H, "account", "c1", "high", "d", campaign_id="K"),
        Flag(20 * H, "account", "c2", "high", "d", campaign_id="K"),
        Flag(20 * H, "account", "b1", "high", "d", campaign_id="K"),
        Flag(15 * H, "campaign", "K", "critical", "d", campaign_id="K"),
    ]
    c = score_flags(flags, truth())["campaigns"]["camp"]
    assert c["first_alert_ms"] == 15 * H


def test_undetected_campaign() -> None:
    c = score_flags([], truth())["campaigns"]["camp"]
    assert not c["detected"] and c["time_to_detect_s"] is None
    assert c["share_before_alert"] == 1.0


def test_enforcing_actions_and_campaign_group_are_reported_per_group() -> None:
    flags = [
        Flag(2 * H, "account", "n1", "high", "d", action="throttle"),
        Flag(3 * H, "account", "n2", "medium", "d", action="verify"),
        Flag(4 * H, "account", "b1", "critical", "d", action="block"),
        Flag(12 * H, "account", "c1", "critical", "d", action="block"),
    ]
    s = score_flags(flags, truth())
    by_group = s["benign"]["by_group"]
    assert by_group["university"]["enforced"] == 1  # verify is not enforcing
    assert by_group["regular"]["enforced"] == 1
    assert s["benign"]["enforced"] == 2  # the campaign account's block is not benign
    assert s["campaigns"]["camp"]["group"] == "hydra"
