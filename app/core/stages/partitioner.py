"""Which input partition holds an account: Kafka's default partitioner (murmur2 of the key).

A producer that keys the input by ``account_id`` (the contract) puts each account on
``murmur2(key) % partitions``; the in-process runner splits a file the same way, so an
offline run sees each partition's events as a deployed account stage does.

>>> account_partitioner(4)("acct-000001") in range(4)
True
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["account_partitioner", "murmur2"]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's ``Utils.murmur2``), as a signed 32-bit int."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        i4 = i * 4
        k = data[i4] | data[i4 + 1] << 8 | data[i4 + 2] << 16 | data[i4 + 3] << 24
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = n4 * 4
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def account_partitioner(partitions: int) -> Callable[[str], int]:
    """``account_id → partition`` as Kafka's default partitioner places its key (cached)."""
    cache: dict[str, int] = {}

    def partition(account_id: str) -> int:
        p = cache.get(account_id)
        if p is None:
            p = cache[account_id] = (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions
        return p

    return partition
