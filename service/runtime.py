"""Process-wide tuning, applied once at the process edge (the CLI's entry point, the benchmarks)."""

from __future__ import annotations

import contextlib
import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas, unless the user set MALLOC_ARENA_MAX.

    glibc gives each thread its own arena, and CTranslate2's worker threads each keep freed
    decode buffers in theirs. Two arenas cut peak RSS by about 55 MB at the same speed
    (bench/translate.py, base model, 2 cores).
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)
