"""One stage's partitions on one worker: their state objects and applied input offsets.

A :class:`StageHost` knows, per input partition, the offset of the next message its
state does not include: a message below it is a re-delivery (skipped), anything else is
applied and moves it. Snapshots pickle every partition's state with the stage's name and
:data:`SNAPSHOT_VERSION`; one of another version or stage is ignored (its partitions are
rebuilt from the input).

>>> host = StageHost("account", "llm.requests", factory=lambda p: {"partition": p})
>>> host.keep(0, 0), host.keep(0, 0), host.next_offset
(True, False, {0: 1})
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

__all__ = ["SNAPSHOT_VERSION", "StageHost"]

#: Bumped whenever a stage's pickled layout changes (module paths too: pickles name
#: classes by module, 12 = the app/core, app/runtime, app/tools move); older snapshots
#: are ignored.
SNAPSHOT_VERSION = 23

S = TypeVar("S")


class StageHost(Generic[S]):
    """One stage's partitions on this worker: state objects and applied input offsets."""

    def __init__(self, name: str, topic: str, factory: Callable[[int], S]) -> None:
        self.name = name
        #: the stage's input topic (the one its offsets refer to)
        self.topic = topic
        self.factory = factory
        self.stages: dict[int, S] = {}
        #: partition → offset of the next input message not yet applied
        self.next_offset: dict[int, int] = {}
        #: a batch's output is sent but not yet acknowledged
        self.unpublished = False
        #: applied something since its last snapshot
        self.dirty = False

    def get(self, partition: int) -> S:
        st = self.stages.get(partition)
        if st is None:
            st = self.stages[partition] = self.factory(partition)
        return st

    def keep(self, partition: int, offset: int) -> bool:
        """Is this message new to the state (and mark it applied)?"""
        if offset < self.next_offset.get(partition, 0):
            return False
        self.next_offset[partition] = offset + 1
        self.dirty = True
        return True

    def snapshot(self) -> bytes:
        return pickle.dumps(
            {"version": SNAPSHOT_VERSION, "stage": self.name, "stages": self.stages},
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, blob: bytes, partitions: list[int], offsets: Mapping[int, int]) -> list[int]:
        """Adopt the snapshot's state of ``partitions`` it covers; the ones restored."""
        snap = pickle.loads(blob)
        if (
            not isinstance(snap, dict)
            or snap.get("version") != SNAPSHOT_VERSION
            or snap.get("stage") != self.name
        ):
            return []
        done = []
        for p in partitions:
            if p in snap["stages"] and p in offsets:
                self.stages[p] = snap["stages"][p]
                self.next_offset[p] = offsets[p]
                done.append(p)
        return done

    def drop(self, partitions: list[int]) -> None:
        for p in partitions:
            self.stages.pop(p, None)
            self.next_offset.pop(p, None)
