"""Snapshot compression: chunking, the LZ4 frame, and snapshots written as zlib before."""

from __future__ import annotations

import os
import pickle
import zlib

import pytest

from app.runtime.checkpoint import ChunkedCompressor, decompress_state


def test_chunks_round_trip_in_order() -> None:
    state = pickle.dumps({"stages": {p: list(range(p * 1000)) for p in range(4)}})
    c = ChunkedCompressor(1024)
    c.write(state[:100])
    c.write(memoryview(state)[100:])
    chunks = c.finish()
    assert len(chunks) > 1
    assert all(len(x) == 1024 for x in chunks[:-1]) and 0 < len(chunks[-1]) <= 1024
    assert decompress_state(b"".join(chunks)) == state
    assert c.finish() == chunks  # idempotent


def test_incompressible_state_round_trips() -> None:
    data = os.urandom(300_000)
    c = ChunkedCompressor(64 * 1024)
    c.write(data)
    assert decompress_state(b"".join(c.finish())) == data


def test_write_after_finish_is_refused() -> None:
    c = ChunkedCompressor(16)
    c.write(b"abc")
    c.finish()
    with pytest.raises(ValueError, match="after finish"):
        c.write(b"more")


def test_snapshot_written_as_zlib_still_reads() -> None:
    state = pickle.dumps({"version": 1, "stages": {0: "x" * 5000}})
    assert decompress_state(zlib.compress(state, 1)) == state


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_lz4_snapshot_is_a_value_error(cut: float) -> None:
    c = ChunkedCompressor(1 << 20)
    c.write(os.urandom(50_000) + b"y" * 50_000)
    blob = b"".join(c.finish())
    with pytest.raises(ValueError, match="corrupt LZ4"):
        decompress_state(blob[: int(len(blob) * cut)])


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="neither LZ4 nor zlib"):
        decompress_state(b"not a snapshot at all")
