"""Process-wide tuning, applied once at the process edge (the CLI's entry point, the WSGI module, the benchmarks)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
MMAP_THRESHOLD_BYTES = 32 << 20  # the largest glibc takes on 64-bit: CTranslate2's step buffers stay on the heap
TRIM_THRESHOLD_BYTES = 128 << 20  # free space kept at the heap's top, not handed back and faulted in again
USER_SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
TRIM_INTERVAL_SECONDS = 10.0  # as jemalloc's default decay: a burst keeps its memory, an idle process hands it back


def tune_malloc() -> None:
    """Tune glibc's malloc for CTranslate2's decoding, unless the user tuned it already.

    - Two arenas: glibc gives each thread its own arena, and CTranslate2's worker threads each keep
      freed decode buffers in theirs; two cut peak RSS by about 55 MB at the same speed
      (bench/translate.py, base model, 2 cores).
    - Fixed mmap and trim thresholds: by default glibc maps each large decode buffer anew and
      hands the heap's free top back after every batch, so the next batch faults the same pages in
      again. Held on the heap, decoding cost 8-12% less CPU a token at 256-token outputs, at the same
      peak RSS; jemalloc, which `serve` preloaded before, was 4% faster there but 3-12% slower at
      realistic lengths with several clients (docs/scaling.md).

    - Freed memory handed back every TRIM_INTERVAL_SECONDS (malloc_trim, on a daemon thread): the
      trim threshold only ever looks at the heap's top, so without this a serving process kept its
      warm-up's freed memory for good (1.4 GB idle against 0.78 GB on jemalloc, docs/scaling.md).

    Left alone where the user set MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_
    or a glibc.malloc tunable (GLIBC_TUNABLES), or where the C library is not glibc.
    """
    if any(name in os.environ for name in USER_SETTINGS) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        for parameter, value in (
            (M_ARENA_MAX, MALLOC_ARENAS),
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
        ):
            libc.mallopt(parameter, value)
        _trim_periodically(libc.malloc_trim)


def _trim_periodically(malloc_trim) -> None:
    def trim_forever() -> None:
        never = threading.Event()
        while not never.wait(TRIM_INTERVAL_SECONDS):
            malloc_trim(0)  # ctypes releases the GIL for the call

    threading.Thread(target=trim_forever, name="malloc-trim", daemon=True).start()


MADV_COLLAPSE = 25  # Linux 6.1 and later
HUGE_PAGE_BYTES = 2 << 20
TRANSPARENT_HUGE_PAGES = "/sys/kernel/mm/transparent_hugepage/enabled"


@contextlib.contextmanager
def loaded_onto_huge_pages() -> Iterator[None]:
    """Back what the block loads (a model's weights) with 2 MB pages, where Linux can.

    Every decoding step reads all the weights, and on 4 KB pages the TLB cannot hold them. After the
    block, the memory the load freed is handed back: the weights as read, which CTranslate2 frees
    once it has packed them, and which the fixed trim threshold would otherwise keep resident. Then
    each 2 MB stretch of anonymous memory the block added that is still wholly resident is collapsed
    into one huge page (MADV_COLLAPSE): nothing is faulted in, so RSS does not grow. With the base
    model that is 32 of its 81 MB, the embedding that is also the output projection, and a lone
    sentence decodes in about 1% less time in raw CTranslate2. CTranslate2 packs every other weight
    matrix for MKL's int8 GEMM into a buffer of its own whose pages lie several MB apart, where a
    huge page would make RSS grow (docs/scaling.md, "Where the weights sit"). Nothing is collapsed
    where the kernel cannot (older than 6.1, not Linux) or where the host turned transparent huge
    pages off (`never`), which MADV_COLLAPSE itself would not heed.
    """
    before = _anonymous_regions()
    yield
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.malloc_trim(0)
        with open(TRANSPARENT_HUGE_PAGES) as setting:
            if "[never]" in setting.read():
                return
        libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        resident = ctypes.create_string_buffer(HUGE_PAGE_BYTES // os.sysconf("SC_PAGE_SIZE"))
        for start, end in _anonymous_regions().items():
            added_from = max(start, before.get(start, start))  # a region that grew (the heap): its new part
            first = -(-added_from // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
            for chunk in range(first, end - HUGE_PAGE_BYTES + 1, HUGE_PAGE_BYTES):
                if libc.mincore(chunk, HUGE_PAGE_BYTES, resident) == 0 and all(b & 1 for b in resident.raw):
                    libc.madvise(chunk, HUGE_PAGE_BYTES, MADV_COLLAPSE)


def _anonymous_regions() -> dict[int, int]:
    """start -> end of this process's writable anonymous mappings (the heap's included); none off Linux."""
    regions = {}
    with contextlib.suppress(OSError), open("/proc/self/maps") as maps:
        for line in maps:
            address, permissions, *rest = line.split()
            if permissions.startswith("rw") and (len(rest) < 4 or rest[3] == "[heap]"):
                start, end = (int(bound, 16) for bound in address.split("-"))
                regions[start] = end
    return regions
