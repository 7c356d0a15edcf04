"""Event-time windows: tumbling buckets closed by a watermark with a grace period."""

from __future__ import annotations

from app.windows.tumbling import TumblingWindows, window_start

__all__ = ["TumblingWindows", "window_start"]
