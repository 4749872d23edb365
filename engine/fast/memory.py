"""Keep freed memory in the process instead of handing it back to the OS (glibc only).

A training step allocates and frees the same tens of megabytes of activations and gradients
every time. Under glibc's defaults every array above the mmap threshold (128 KiB, rising to
at most 32 MiB as it adapts) is mapped fresh and unmapped on free, and the next step pays a
page fault per 4 KiB page to map it again: 7,500 faults, 20–40 ms of an 80 ms seed-CNN step
at batch 128 on the 2-core course machine (bench/nn_train.py). With a fixed 32 MiB mmap
threshold and a 256 MiB trim threshold freed blocks stay in the heap and are reused: the same
step then faults once and takes ~45 ms.

Applied once, when training starts (an ``nn.optim`` optimizer is made, or ``nn.fit`` runs)
or the first conv2d / pooling op runs -- not
when ``engine`` is imported, so a program that only imports stepgrad keeps glibc's defaults
-- unless the user chose otherwise: set
``STEPGRAD_KEEP_MEMORY=0`` to leave malloc alone, and any ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` in the environment wins. The cost: a process keeps up to 256 MiB of
freed heap memory for reuse instead of returning it.
"""
from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 << 20   # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers, <malloc.h>
applied = False


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); True if applied."""
    global applied
    if applied:
        return True
    if (not sys.platform.startswith("linux") or os.environ.get("STEPGRAD_KEEP_MEMORY") == "0"
            or "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return applied
