"""Counting events per time bin, polarity and pixel, in one numba pass.

Shared by the event frame, the T-step frame sequence, the stacked histogram and the
cumulative stack, which differ only in how many bins they cut the window into, in which
order bins and polarities lie in memory, and how a cell grows (count, saturate, or mark).
Events are time-sorted, so each bin is a run of consecutive events: :func:`bin_starts`
finds the runs by binary search on exact integer bin edges, and the kernel needs no
per-event time arithmetic. The kernel writes into a flat view of the output tensor (no
temporary), checks coordinates against the sensor and time order as it goes, and returns
what it found so the caller can raise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .window import search_sorted

COUNT = 0
MARK = 1
SATURATE = 2


def bin_starts(t: np.ndarray, origin: int, span: int, nbins: int) -> np.ndarray:
    """Where each of ``nbins`` equal bins of ``[origin, origin + span)`` starts in sorted ``t``.

    Returns ``nbins + 1`` indices; bin ``b`` holds ``t[starts[b]:starts[b + 1]]``, the events
    with ``floor((t - origin) * nbins / span) == b`` (an event on an edge belongs to the later
    bin). All of ``t`` is assumed to lie in the window; the last bin takes any event at or
    past its end (RVT's clamp).

    >>> bin_starts(np.array([0, 4, 5, 9, 10]), 0, 10, 2).tolist()
    [0, 2, 5]
    """
    starts = np.empty(nbins + 1, dtype=np.int64)
    starts[0] = 0
    starts[-1] = len(t)
    if nbins > 1:
        b = np.arange(1, nbins, dtype=np.int64)
        edges = origin + (b * span + nbins - 1) // nbins
        starts[1:-1] = search_sorted(t, edges)
    return starts


@njit(cache=True, nogil=True)
def accumulate_counts(x, y, p, t, out, width, height, starts, bin_stride, pol_stride, mode, cutoff):
    """Grow ``out[b * bin_stride + pol * pol_stride + y * width + x]`` for each event of bin ``b``.

    ``pol = 1 if p > 0 else 0``. ``mode``: :data:`COUNT` adds 1, :data:`MARK` sets 1,
    :data:`SATURATE` adds 1 while the cell is below ``cutoff``. Returns the number of events
    off the sensor (skipped) and whether time ran backwards.
    """
    outside = 0
    unsorted = False
    prev = t[0] if len(t) else 0
    for b in range(len(starts) - 1):
        base = b * bin_stride
        for i in range(starts[b], starts[b + 1]):
            ti = t[i]
            unsorted |= ti < prev
            prev = ti
            xi = np.int64(x[i])
            yi = np.int64(y[i])
            if xi >= width or yi >= height:
                outside += 1
                continue
            k = base + yi * width + xi + np.int64(p[i] > 0) * pol_stride
            if mode == COUNT:
                out[k] += 1
            elif mode == MARK:
                out[k] = 1
            elif out[k] < cutoff:
                out[k] += 1
    return outside, unsorted


@njit(cache=True, nogil=True)
def accumulate_signed(x, y, p, t, out, width, height):
    """Add +1 (ON) or -1 (OFF) at ``out[y * width + x]`` per event; report as above."""
    outside = 0
    unsorted = False
    prev = t[0] if len(t) else 0
    for i in range(len(t)):
        ti = t[i]
        unsorted |= ti < prev
        prev = ti
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            outside += 1
            continue
        out[yi * width + xi] += np.float32(2 * np.int64(p[i] > 0) - 1)
    return outside, unsorted
