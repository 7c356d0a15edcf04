"""Throughput benchmark — placeholder until the performance issue lands.

It runs the offline core over the example file and prints events/s; it is not the
end-to-end Kafka benchmark the performance issue asks for.
"""

from __future__ import annotations

from app.config import DetectionSettings
from app.offline import detect_file


def main() -> None:
    summary = detect_file(
        "schemas/examples/request_events.jsonl",
        settings=DetectionSettings(),
        on_alert=lambda a: None,
    )
    print(
        f"offline core: {summary.events:,} events in {summary.seconds:.2f}s "
        f"= {summary.events_per_s:,.0f} events/s, {summary.alerts} alerts"
    )


if __name__ == "__main__":
    main()
