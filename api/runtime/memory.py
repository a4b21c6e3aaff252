"""glibc malloc settings for a worker: memory a password hash used goes back at once.

An argon2id hash allocates ``ARGON2_MEMORY_COST`` (19 MiB) with ``malloc``. glibc
serves a block that large with ``mmap``, but after the first one is freed it
raises its mmap threshold to that size, so the next hashes come from its heap
arenas (one per thread that hashed, up to 8 per core) and stay resident after
they are freed: a worker that served logins on 4 threads kept about 40 MB more.
Fixing the threshold keeps every hash in ``mmap`` (returned when freed), and two
arenas bound what threads can each keep. ``MALLOC_ARENA_MAX`` or
``MALLOC_MMAP_THRESHOLD_`` in the environment win; elsewhere than glibc this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1024 * 1024  # blocks from 1 MiB up: mmap, unmapped when freed
ARENA_MAX = 2


def tune_malloc() -> dict[str, int]:
    """Apply the settings the environment does not set; what was applied."""
    name = ctypes.util.find_library("c")
    if not name:
        return {}
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return {}
    applied = {}
    for env, parameter, value in (
        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX),
    ):
        if os.environ.get(env) is None and mallopt(parameter, value) == 1:
            applied[env] = value
    return applied
