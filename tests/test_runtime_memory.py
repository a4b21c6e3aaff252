"""api.runtime.memory: glibc malloc settings applied in each worker."""

import ctypes.util
import platform

import pytest

from api.runtime import memory

glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not ctypes.util.find_library("c"),
    reason="mallopt is glibc's",
)


@glibc
def test_both_settings_are_applied_when_the_environment_sets_neither(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert memory.tune_malloc() == {
        "MALLOC_MMAP_THRESHOLD_": memory.MMAP_THRESHOLD,
        "MALLOC_ARENA_MAX": memory.ARENA_MAX,
    }


@glibc
def test_the_environment_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert memory.tune_malloc() == {"MALLOC_MMAP_THRESHOLD_": memory.MMAP_THRESHOLD}


def test_nothing_is_applied_without_a_c_library(monkeypatch):
    monkeypatch.setattr(memory.ctypes.util, "find_library", lambda name: None)
    assert memory.tune_malloc() == {}
