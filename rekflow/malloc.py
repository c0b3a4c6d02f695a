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


def limit_arenas(count: int = 2) -> None:
    """Cap the arenas before the threads start; a no-op where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(M_ARENA_MAX, count)
