from __future__ import annotations

import pickle
import random

from app.core.detectors.account_window import AccountWindowDetector
from app.core.settings import DetectionSettings


def benign(rng: random.Random) -> dict[str, float]:
    n = max(1, int(rng.lognormvariate(1.0, 0.8)))
    return {
        "requests": float(n),
        "prompt_tokens": n * rng.uniform(500, 2_000),
        "completion_tokens": n * rng.uniform(50, 400),
        "completion_ratio": rng.uniform(0.05, 0.4),
        "distinct_ips": float(rng.choice((1, 1, 2))),
        "interarrival_cv": rng.uniform(0.8, 2.0),
        "max_tokens_share": rng.uniform(0, 0.1),
        "error_share": 0.0,
    }


ABUSIVE = {
    "requests": 120.0,
    "prompt_tokens": 240_000.0,
    "completion_tokens": 480_000.0,
    "completion_ratio": 2.0,
    "distinct_ips": 110.0,
    "interarrival_cv": 0.02,
    "max_tokens_share": 0.7,
    "error_share": 0.0,
}


def trained(n: int = 600, **kw: object) -> AccountWindowDetector:
    det = AccountWindowDetector(DetectionSettings(warmup_windows=200, **kw))  # type: ignore[arg-type]
    rng = random.Random(0)
    for _ in range(n):
        det.score(benign(rng))
    return det


def test_no_alert_during_warmup() -> None:
    det = AccountWindowDetector(DetectionSettings(warmup_windows=50))
    for _ in range(49):
        assert not det.score(ABUSIVE).anomalous


def test_flags_abusive_window_after_warmup() -> None:
    det = trained()
    v = det.score(ABUSIVE)
    assert v.anomalous
    assert v.score > v.threshold
    assert v.baseline["requests"] is not None and v.baseline["requests"] < 20


def test_benign_false_positive_rate_is_low() -> None:
    det = trained()
    rng = random.Random(1)
    flagged = sum(det.score(benign(rng)).anomalous for _ in range(2_000))
    assert flagged / 2_000 < 0.01


def test_flagged_windows_are_not_learned() -> None:
    det = trained()
    learned, flagged = det.windows_learned, det.windows_flagged
    for _ in range(50):
        assert det.score(ABUSIVE).anomalous  # keeps flagging: abuse never becomes baseline
    assert det.windows_learned == learned
    assert det.windows_flagged == flagged + 50


def test_min_requests_evidence_floor() -> None:
    det = trained()
    tiny = dict(ABUSIVE, requests=3.0)
    assert not det.score(tiny).anomalous


def test_pickle_roundtrip_keeps_state() -> None:
    det = trained()
    clone = pickle.loads(pickle.dumps(det))
    assert clone.windows_learned == det.windows_learned
    assert clone.score(ABUSIVE).score == det.score(ABUSIVE).score
