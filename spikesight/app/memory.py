"""Allocator settings for a viewer that runs for hours (a kiosk): memory that stays flat.

glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MB), so once
a network has run a few windows its large buffers (activations, frames) come from the heaps of
the threads that free them, and each heap keeps the most it ever held. Measured on the 2-core
development machine with the shipped detector (kiosk at 20x): the viewer grew by 30-50 MB in
the first seconds of playing and then swung by as much. Fixed thresholds of 4 MB (a block that
large is mapped on its own and unmapped when freed; a heap gives back a free top above 4 MB) kept
it within about 15 MB of its size at the end of start-up, with no measurable cost to a detection
step. ``spikesight app`` sets them when it starts; elsewhere than Linux with glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: The threshold set for both: blocks this large are mapped on their own; free heap tops this large go back.
ALLOCATOR_THRESHOLD = 4 << 20


def tune_allocator(threshold: int = ALLOCATOR_THRESHOLD) -> bool:
    """Fix glibc's mmap and trim thresholds at ``threshold`` bytes (which also stops the mmap
    threshold from rising); returns whether they were set (``False`` off Linux/glibc)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, int(threshold))) and bool(mallopt(M_TRIM_THRESHOLD, int(threshold)))
    log.debug("malloc thresholds %s at %d bytes", "set" if ok else "NOT set", threshold)
    return ok
