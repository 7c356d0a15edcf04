"""The one event path's front: message values → valid events + dead letters.

Decode limits (message size, batch size) and the future-skew filter live here, used
by the account stage's agent and by ``hydrawatch detect`` alike.

>>> out = decode_values([b'[{"event_id": "x"}]', b"\\xff"], max_message_bytes=1024,
...                     max_batch_events=10, max_future_skew_ms=None, now_ms=0)
>>> [(d.message_index, d.letter.reason) for d in out.dead]
[(0, 'invalid_event'), (1, 'invalid_utf8')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.events import DeadLetter, RequestEvent, decode_message
from app.core.events.decode import DEFAULT_MAX_DEAD_LETTER_BYTES
from app.core.events.request import event_json

__all__ = ["Ingested", "SourcedDeadLetter", "decode_values"]


@dataclass(frozen=True, slots=True)
class SourcedDeadLetter:
    """A dead letter with the position of the message it came from in the batch."""

    message_index: int
    letter: DeadLetter


@dataclass(slots=True)
class Ingested:
    #: valid events of each message, in message order
    events: list[list[RequestEvent]] = field(default_factory=list)
    dead: list[SourcedDeadLetter] = field(default_factory=list)
    raw_text_dropped: int = 0


def decode_values(
    values: Sequence[bytes | None],
    *,
    max_message_bytes: int,
    max_batch_events: int,
    max_future_skew_ms: int | None,
    now_ms: int,
    max_dead_letter_bytes: int = DEFAULT_MAX_DEAD_LETTER_BYTES,
) -> Ingested:
    out = Ingested()
    limit = None if max_future_skew_ms is None else now_ms + max_future_skew_ms
    for i, value in enumerate(values):
        decoded = decode_message(
            value,
            max_message_bytes=max_message_bytes,
            max_batch_events=max_batch_events,
            max_dead_letter_bytes=max_dead_letter_bytes,
        )
        out.raw_text_dropped += decoded.raw_text_dropped
        out.dead.extend(SourcedDeadLetter(i, d) for d in decoded.dead)
        if limit is None:
            out.events.append(decoded.events)
            continue
        keep: list[RequestEvent] = []
        for j, e in enumerate(decoded.events):
            if e.ts_ms > limit:
                out.dead.append(
                    SourcedDeadLetter(
                        i,
                        DeadLetter(
                            "ts_in_future",
                            f"ts_ms is {e.ts_ms - now_ms} ms ahead of the wall clock "
                            f"(limit {max_future_skew_ms})",
                            event_json(e),
                            j,
                        ),
                    )
                )
            else:
                keep.append(e)
        out.events.append(keep)
    return out
