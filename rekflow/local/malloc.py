"""Keep glibc's allocator from holding memory the local runtime has freed.

glibc gives each new thread a malloc arena of its own, up to eight per core, and keeps what is
freed inside it. The local runtime starts about twenty short threads per execution (moto's
interpreter: one per state and branch), so over a folder the process held nearly twice its
working set: 1.84 GiB peak over 1,000 photos with the default, 1.07 GiB with two arenas at the
same speed (`make bench-folder`). This is what MALLOC_ARENA_MAX=2 does, set from inside.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8  # from glibc's malloc.h
M_MMAP_THRESHOLD = -3
# Pixel buffers (a 12 MP photo decoded at half size is 9 MB) are larger than this, so each one is mapped on its own
# and unmapped when freed. Left to itself glibc raises the threshold after the first such buffer is freed (up to
# 32 MB), after which they come from the heap and leave holes it cannot return.
MMAP_THRESHOLD_BYTES = 1 << 20


def limit_arenas(count: int = 2) -> None:
    """Cap the arenas (and fix the mmap threshold) before the threads start; a no-op where the C library is
    not glibc."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, count)
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
