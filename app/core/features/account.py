"""Per-account window accumulator and its features.

>>> w = AccountWindow()
>>> for t in (0, 1_000, 2_000, 3_000):
...     w.add(ts_ms=t, client_ip="10.0.0.1", prompt_tokens=100, completion_tokens=50,
...           max_tokens=50, status=200)
>>> f = account_features(w)
>>> f["requests"], f["interarrival_cv"], f["max_tokens_share"], f["distinct_ips"]
(4.0, 0.0, 1.0, 1.0)
"""

from __future__ import annotations

import math

__all__ = ["ACCOUNT_FEATURES", "MAX_TRACKED_IPS", "AccountWindow", "account_features"]

#: Distinct IPs kept per account window; beyond this the count saturates.
MAX_TRACKED_IPS = 256

ACCOUNT_FEATURES: tuple[str, ...] = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "completion_ratio",
    "distinct_ips",
    "interarrival_cv",
    "max_tokens_share",
    "error_share",
)


class AccountWindow:
    """Running summary of one account's requests in one window (O(1) per event)."""

    __slots__ = (
        "_gap_m2",
        "_gap_mean",
        "_gaps",
        "_ips",
        "at_max_tokens",
        "completion_tokens",
        "errors",
        "first_ts_ms",
        "last_ts_ms",
        "prompt_tokens",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.at_max_tokens = 0
        self.errors = 0
        self.first_ts_ms: int | None = None
        self.last_ts_ms: int | None = None
        self._ips: set[str] = set()
        self._gaps = 0
        self._gap_mean = 0.0
        self._gap_m2 = 0.0

    def add(
        self,
        *,
        ts_ms: int,
        client_ip: str,
        prompt_tokens: int,
        completion_tokens: int,
        max_tokens: int | None,
        status: int,
    ) -> None:
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if max_tokens is not None and completion_tokens >= max_tokens:
            self.at_max_tokens += 1
        if status >= 400:
            self.errors += 1
        if len(self._ips) < MAX_TRACKED_IPS:
            self._ips.add(client_ip)
        last = self.last_ts_ms
        if last is None:
            self.first_ts_ms = ts_ms
            self.last_ts_ms = ts_ms
            return
        if ts_ms >= last:
            # Welford update of inter-arrival gaps (events out of order within a
            # window are folded in as arrivals at the current maximum).
            gap = float(ts_ms - last)
            self._gaps += 1
            delta = gap - self._gap_mean
            self._gap_mean += delta / self._gaps
            self._gap_m2 += delta * (gap - self._gap_mean)
            self.last_ts_ms = ts_ms
        elif self.first_ts_ms is not None and ts_ms < self.first_ts_ms:
            self.first_ts_ms = ts_ms

    @property
    def distinct_ips(self) -> int:
        return len(self._ips)

    @property
    def interarrival_cv(self) -> float:
        """Coefficient of variation of gaps; 1.0 (Poisson-like) when under 3 gaps."""
        if self._gaps < 3 or self._gap_mean <= 0:
            return 1.0 if self._gaps < 3 else 0.0
        std = math.sqrt(self._gap_m2 / self._gaps)
        return std / self._gap_mean


def account_features(w: AccountWindow) -> dict[str, float]:
    """Feature dict of a closed account window (keys: :data:`ACCOUNT_FEATURES`)."""
    n = w.requests
    return {
        "requests": float(n),
        "prompt_tokens": float(w.prompt_tokens),
        "completion_tokens": float(w.completion_tokens),
        "completion_ratio": w.completion_tokens / (w.prompt_tokens + 1),
        "distinct_ips": float(w.distinct_ips),
        "interarrival_cv": w.interarrival_cv,
        "max_tokens_share": w.at_max_tokens / n if n else 0.0,
        "error_share": w.errors / n if n else 0.0,
    }
