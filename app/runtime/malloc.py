"""glibc allocator tuning for the long-running worker.

Input envelopes arrive as bytes objects of hundreds of KB, allocated and freed for every
message. glibc's *dynamic* mmap threshold rises to the size of the first such buffer
freed; from then on they are carved from the heap between long-lived detection state,
and freed space there is rarely returned to the system, so the worker's RSS ratchets up.
Pinning the threshold keeps large buffers in their own mappings, unmapped on free
(measured in docs/performance.md: the bench worker ended at ~490 MB instead of ~910 MB).

>>> set_mmap_threshold(0)      # 0: leave glibc's dynamic threshold alone
False
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["set_mmap_threshold"]

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def set_mmap_threshold(threshold_bytes: int) -> bool:
    """Allocations of at least ``threshold_bytes`` get their own mapping (glibc only).

    Returns whether the setting took effect (False on other C libraries, or for 0).
    """
    if threshold_bytes <= 0 or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(threshold_bytes)))
