"""Keep freed host memory mapped while rewards are evaluated on the CPU.

Why: a reward forward pass of ``max_batch`` rows allocates and frees its activations
(8192 rows x 256 hidden units x 4 bytes = 8 MiB per layer for the benchmark's MLP).
glibc's malloc adapts its thresholds as it goes: a freed block at the top of the heap
larger than the trim threshold goes back to the OS, and large blocks are mmapped, so
the next batch faults the same pages in again (zero-filled by the kernel). Measured in
`bench/epic_throughput.py` (MLP 42-256-256-1, 1 thread): about a million minor page
faults and 2 s of system time in a 7 s phase, which phase depending on the order of
earlier allocations; this was the 25% by which EPIC's forward passes trailed the bare
passes. Fixed thresholds (`mallopt`, glibc only) keep the pages: memory held stays
bounded by the largest forward pass's working set, i.e. by ``max_batch``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# mallopt parameters (glibc malloc.h) and the values set.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 512 * 2**20  # free heap top kept before returning it to the OS
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's maximum: blocks below it come from the heap
ENV_DISABLE = "EPIC_BENCH_DEFAULT_MALLOC"  # "1": leave glibc's defaults (for measurements)

_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Set fixed malloc thresholds once per process; True when they are in effect.

    A no-op (False) off glibc (macOS, musl), or when ``$EPIC_BENCH_DEFAULT_MALLOC=1``.
    """
    if "applied" in _state:
        return _state["applied"]
    applied = False
    if os.environ.get(ENV_DISABLE, "") != "1" and platform.libc_ver()[0] == "glibc":
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        applied = bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
            and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        )
    _state["applied"] = applied
    return applied
