"""The idle rule (``docs/architecture.md``, event time across stages), as a pure function.

An input partition is declared idle — left out of the downstream stages' event-time
minimum until it sends again — only when all of these hold:

- its stage is not restoring or reading back (a partition being taken has state that
  does not yet include what the broker holds for it);
- it has been quiet for ``idle_after_s`` since its last applied message or, if none,
  since it was assigned (a partition with no known quiet start is never idle: the
  start-up regression declared partitions with nothing applied idle at once);
- it is caught up: its fetch high-water mark is known and everything below it is
  applied, so no message of it is in flight (fetched, buffered, or still being read
  back) behind the idle mark.

>>> idle_partitions([0, 1], now=20.0, idle_after_s=10.0, restoring=False,
...                 quiet_since={0: 5.0, 1: 5.0}, applied_to={0: 7, 1: 3},
...                 highwater={0: 7, 1: 9}.get)
[0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

__all__ = ["idle_partitions"]


def idle_partitions(
    partitions: Iterable[int],
    *,
    now: float,
    idle_after_s: float,
    restoring: bool,
    quiet_since: Mapping[int, float],
    applied_to: Mapping[int, int],
    highwater: Callable[[int], int | None],
) -> list[int]:
    """The ``partitions`` to declare idle at monotonic time ``now``.

    ``quiet_since``: partition → monotonic time of its last applied message or of its
    assignment; ``applied_to``: partition → offset of the next message not yet applied;
    ``highwater``: partition → its fetch high-water mark (None while unknown).
    """
    if restoring:
        return []
    out = []
    for p in partitions:
        since = quiet_since.get(p)
        if since is None or now - since < idle_after_s:
            continue
        high = highwater(p)
        if high is None or applied_to.get(p, 0) < high:
            continue
        out.append(p)
    return out
