"""Process-wide set-up that makes the array-heavy stages faster (no torch needed here)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
from collections.abc import Iterator

__all__ = ["gc_paused", "release_free_memory", "resident_mb", "tune_allocator"]

_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """On Linux/glibc, keep freed memory instead of returning it to the OS after every step.

    Large arrays (activation buffers in training, per-chunk temporaries in windowing) are
    otherwise ``mmap``-ed and ``munmap``-ed each time, and every fresh page costs a fault;
    raising ``M_MMAP_THRESHOLD`` (32 MiB) and ``M_TRIM_THRESHOLD`` (1 GiB) with glibc's
    ``mallopt`` avoids that churn. Idempotent; returns True when applied.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024) and libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        return False
    _ALLOCATOR_TUNED = bool(ok)
    return _ALLOCATOR_TUNED


def release_free_memory() -> bool:
    """Hand memory freed inside the process back to the OS now (glibc's ``malloc_trim``).

    :func:`tune_allocator` keeps up to 1 GiB of freed memory for reuse; a long streaming job
    (``score`` a chunk at a time) calls this between chunks so that what it holds is what it
    uses, not its largest chunk so far. Returns True when it ran (Linux with glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def resident_mb() -> float | None:
    """This process's resident memory now, in MiB (None where ``/proc`` is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block (restored after, as it was).

    Building hundreds of thousands of small objects (a windows table holds seven array views
    per window) otherwise triggers full collections that walk every object in the process:
    7% of the windowing time on a 10-million-point table. Nothing made in the block is
    cyclic garbage, so nothing is lost by waiting.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
