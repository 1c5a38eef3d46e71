"""Give the C heap's free pages back to the system: glibc's ``malloc_trim(0)``, a no-op elsewhere.

Why: a long-running engine allocates and frees millions of small objects (every event is parsed, applied
and dropped; every checkpoint pickles megabytes). CPython frees them, but glibc's allocator keeps the freed
pages of its heap until asked, so the process's resident size creeps up by tens of megabytes that nothing
uses (measured: 20 MB of 202 MB for the 10,000-agent day of ``benchmarks/bench_pipeline.py``). The engine
runner calls :func:`release_free_memory` after it stores a checkpoint (the moment the pickled payload was
just dropped), at most once a minute: the call walks the heap, a few milliseconds at that size.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; True when the allocator released some."""
    return bool(_TRIM(0)) if _TRIM is not None else False
