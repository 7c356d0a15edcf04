"""Per-account window anomaly detector: ``log1p → MinMaxScaler → HalfSpaceTrees``.

Scores every closed account window; a window is anomalous when, after a warm-up,
its score exceeds both a running quantile of past scores and an absolute floor,
and it carries enough evidence (``min_requests``). Flagged windows are not learned,
so an ongoing abuse does not become the baseline.

>>> from app.core.settings import DetectionSettings
>>> det = AccountWindowDetector(DetectionSettings(warmup_windows=5))
>>> quiet = {"requests": 3.0, "prompt_tokens": 900.0, "completion_tokens": 300.0,
...          "completion_ratio": 0.33, "distinct_ips": 1.0, "interarrival_cv": 1.0,
...          "max_tokens_share": 0.0, "error_share": 0.0}
>>> det.score(quiet).anomalous      # still warming up
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import anomaly, preprocessing, stats

from app.core.features.account import ACCOUNT_FEATURES
from app.core.settings import DetectionSettings

__all__ = ["DETECTOR_NAME", "AccountWindowDetector", "Verdict", "WindowModel"]

DETECTOR_NAME = "account_window_hst"

#: Heavy-tailed count features are compressed before scaling.
_LOG_FEATURES = frozenset({"requests", "prompt_tokens", "completion_tokens", "distinct_ips"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """A scored window: ``anomalous`` already includes warm-up and evidence rules."""

    score: float
    threshold: float
    anomalous: bool
    #: Learned median of each feature (None before any learning).
    baseline: dict[str, float | None]


class WindowModel:
    """``log1p → MinMaxScaler → HalfSpaceTrees`` over one entity type's window summaries.

    Online and picklable; adaptive threshold = max(``min_score``, running quantile of
    learned scores); silent during warm-up and below ``min_requests``; flagged windows
    are not learned.
    """

    def __init__(
        self,
        settings: DetectionSettings,
        *,
        name: str,
        features: tuple[str, ...],
        log_features: frozenset[str],
        n_trees: int = 15,
    ) -> None:
        self.settings = settings
        self.name = name
        self.features = features
        self.log_features = log_features
        self._scaler = preprocessing.MinMaxScaler()
        self._trees = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=8, window_size=250, seed=settings.seed
        )
        self._score_q = stats.Quantile(settings.threshold_quantile)
        self._medians = {f: stats.Quantile(0.5) for f in features}
        self.windows_learned = 0
        self.windows_flagged = 0

    def _model_input(self, features: dict[str, float]) -> dict[str, float]:
        return {
            k: (
                math.log1p(max(features.get(k, 0.0), 0.0))
                if k in self.log_features
                else float(features.get(k, 0.0))
            )
            for k in self.features
        }

    @property
    def warm(self) -> bool:
        return self.windows_learned >= self.settings.warmup_windows

    def baseline(self) -> dict[str, float | None]:
        return {f: q.get() for f, q in self._medians.items()}

    def score(self, features: dict[str, float]) -> Verdict:
        """Score a closed window and learn from it unless it is flagged.

        Windows with fewer than ``min_model_requests`` requests are neither scored nor
        learned: they cannot alert, and the model describes active windows.
        """
        if features.get("requests", 0.0) < self.settings.min_model_requests:
            return Verdict(score=0.0, threshold=1.0, anomalous=False, baseline={})
        x = self._model_input(features)
        scaled = self._scaler.transform_one(x)
        score = float(min(max(self._trees.score_one(scaled), 0.0), 1.0))
        q = self._score_q.get()
        threshold = max(self.settings.min_score, q if q is not None else 1.0)
        anomalous = (
            self.warm
            and features.get("requests", 0.0) >= self.settings.min_requests
            and score > threshold
        )
        baseline = self.baseline()
        if anomalous:
            self.windows_flagged += 1
        else:
            self._scaler.learn_one(x)
            self._trees.learn_one(scaled)
            self._score_q.update(score)
            for f, med in self._medians.items():
                med.update(features.get(f, 0.0))
            self.windows_learned += 1
        return Verdict(score=score, threshold=threshold, anomalous=anomalous, baseline=baseline)


class AccountWindowDetector(WindowModel):
    """The per-account model: closed account windows (:mod:`app.core.features.account`)."""

    def __init__(self, settings: DetectionSettings) -> None:
        super().__init__(
            settings,
            name=DETECTOR_NAME,
            features=ACCOUNT_FEATURES,
            log_features=_LOG_FEATURES,
            n_trees=15,
        )
