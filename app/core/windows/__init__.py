"""Event-time windows: tumbling buckets closed by a watermark with a grace period."""

from __future__ import annotations

from app.core.windows.hll import HyperLogLog
from app.core.windows.sliding import SlidingSums
from app.core.windows.tumbling import TumblingWindows, window_start

__all__ = ["HyperLogLog", "SlidingSums", "TumblingWindows", "window_start"]
