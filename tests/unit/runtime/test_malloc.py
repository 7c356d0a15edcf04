from __future__ import annotations

import platform

import pytest

from app.runtime.malloc import set_mmap_threshold


def test_zero_leaves_the_allocator_alone() -> None:
    assert set_mmap_threshold(0) is False


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_glibc_accepts_the_threshold() -> None:
    assert set_mmap_threshold(128 * 1024) is True
