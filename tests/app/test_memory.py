"""The allocator settings of `spikesight app`: set on Linux with glibc, a no-op elsewhere."""

from __future__ import annotations

import platform
import sys

import pytest

from spikesight.app import memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt")
def test_thresholds_are_set_with_glibc():
    assert memory.tune_allocator() is True
    assert memory.tune_allocator(memory.ALLOCATOR_THRESHOLD) is True  # again: harmless


def test_nothing_happens_elsewhere(monkeypatch):
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert memory.tune_allocator() is False
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert memory.tune_allocator() is False
