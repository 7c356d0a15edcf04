"""Reference consumer of the alert topic: the current throttle/block/verify list."""

from app.enforce.store import EnforcementStore, Entry

__all__ = ["EnforcementStore", "Entry"]
