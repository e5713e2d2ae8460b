"""Process-level tuning that makes CPU inference fast without changing any number it computes.

`tune_allocator` keeps glibc's malloc from handing every large activation tensor back to the kernel. By default
glibc serves blocks above a (dynamic) threshold with a fresh ``mmap`` and unmaps them on free, and trims the heap
top as soon as 128 KB are free, so each forward pass of the backbone page-faults and zero-fills tens of MB again.
Measured here on 2 cores (EfficientNet-Lite0, 496x496, channels-last, 2026-12-04): 44 ms per pass by default,
26 ms with both thresholds raised; either one alone does not help. The price is memory the process keeps for
reuse: about +40 MB of peak RSS. Set ``VQUAL_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

#: mallopt parameters (glibc malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (32 MB is glibc's maximum on 64-bit; the largest Lite0 activation of
#: a 512x512 view is ~25 MB).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the heap top kept for reuse before it is returned to the kernel.
TRIM_THRESHOLD = 256 * 1024 * 1024

_done: bool | None = None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once per process. True when they are set (now or before); False on
    other C libraries or platforms, or when ``VQUAL_MALLOC_TUNING=0``. Never raises."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("VQUAL_MALLOC_TUNING", "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok


# ------------------------------------------------------------------------------------------------------------------
# Threads: one knob for ONNX Runtime, decoding and numpy (`--threads`, VQUAL_THREADS)
# ------------------------------------------------------------------------------------------------------------------
_threads: int | None = None
#: numpy's BLAS and OpenMP read these once, when numpy is first imported.
_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parse_threads(value: str | int, source: str) -> int:
    """A thread count (an integer >= 1); ValueError naming `source` (e.g. "VQUAL_THREADS") otherwise."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValueError(f"{source}: expected a whole number of threads >= 1, got {value!r}")
    return n


def threads() -> int:
    """Threads one scoring job uses for ONNX Runtime's intra-op pool and for video decoding: `set_threads`'s value
    if it was called, else ``$VQUAL_THREADS``, else every usable CPU. Raises ValueError for a bad VQUAL_THREADS."""
    if _threads is not None:
        return _threads
    env = os.environ.get("VQUAL_THREADS")
    return parse_threads(env, "VQUAL_THREADS") if env else usable_cpus()


def threads_per_worker(workers: int) -> int:
    """The default share of one of `workers` processes running at once: the usable CPUs divided among them (one
    each when there are at least as many workers as CPUs)."""
    return max(1, usable_cpus() // max(1, int(workers)))


def set_threads(n: int | None) -> None:
    """Set the thread count for this process (None: back to VQUAL_THREADS or every CPU). Also exported as
    VQUAL_THREADS for child processes, and, when numpy has not been imported yet, as its BLAS/OpenMP thread count.
    Sessions created before the call keep their count. (A server or batch running several workers gives each one
    thread: `set_threads(1)` in each.)"""
    global _threads
    import sys

    _threads = None if n is None else parse_threads(n, "threads")
    if _threads is None:
        return
    os.environ["VQUAL_THREADS"] = str(_threads)
    if "numpy" not in sys.modules:
        for var in _BLAS_ENV:
            os.environ[var] = str(_threads)


# ------------------------------------------------------------------------------------------------------------------
# Optional frameworks: a plain install scores without torch; training, the language path and LPIPS need an extra
# ------------------------------------------------------------------------------------------------------------------
def missing(module: str, extra: str, what: str) -> str | None:
    """None when `module` is installed, else one line saying that `what` needs it and how to install it."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return None
    return f"{what} needs {module}, which is not installed: pip install 'vqual[{extra}]'"
