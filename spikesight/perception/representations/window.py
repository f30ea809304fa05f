"""The time window every representation reads, and the checks they share.

A representation reads the events of one window ``[t0, t1)`` (µs, ``t1`` excluded) of a
time-sorted event array (every :class:`spikesight.io.EventSource` yields sorted events).
By default the window runs from the first event's timestamp to the last one's plus 1, so
every event counts; events outside the window are ignored, and an empty window gives a
tensor of zeros (or of the representation's background).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from numba import njit

from spikesight.io.events import as_events


class EventRepresentation(Protocol):
    """What a pipeline needs of a representation: its output shape, and events in, tensor out."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor: ...


@njit(cache=True, nogil=True)
def search_sorted(t, values):
    """``np.searchsorted(t, values, side="left")`` without copying a strided ``t``.

    numpy copies a non-contiguous array (such as the ``t`` field of an event array) before
    searching it, which costs a pass over all events; a binary search here reads log2(n).
    """
    out = np.empty(len(values), dtype=np.int64)
    for j in range(len(values)):
        v = values[j]
        lo = 0
        hi = len(t)
        while lo < hi:
            mid = (lo + hi) >> 1
            if t[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[j] = lo
    return out


@njit(cache=True, nogil=True)
def sorted_outside(t, lo, hi):
    """Whether ``t`` is sorted, checking every neighbour pair except those inside ``[lo, hi)``.

    The kernels check time order inside the window as they read it; this covers the rest,
    so unsorted input is caught at a cost proportional to what lies outside the window.
    """
    for i in range(0, min(lo, len(t) - 1)):
        if t[i] > t[i + 1]:
            return False
    for i in range(max(hi - 1, 0), len(t) - 1):
        if t[i] > t[i + 1]:
            return False
    return True


def select_window(
    events: np.ndarray, t0: int | None = None, t1: int | None = None
) -> tuple[np.ndarray, int, int]:
    """The events of ``[t0, t1)`` as a view (no copy), with the window's resolved bounds.

    Time order is checked outside the window here, and inside it by the kernels that read it.
    ``t0`` defaults to the first event's timestamp and ``t1`` to the last one's plus 1, each
    clipped so that a defaulted bound never crosses a given one (the window is then empty).
    Both given with ``t1 < t0`` is an error; ``t1 == t0`` is an empty window.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 1, 2], [0, 0, 0], [1, 0, 1], [10, 20, 30])
    >>> sel, t0, t1 = select_window(ev, 15)
    >>> sel["t"].tolist(), t0, t1
    ([20, 30], 15, 31)
    """
    events = as_events(events)
    t = events["t"]
    n = len(t)
    if t0 is None:
        t0 = int(t[0]) if n else (0 if t1 is None else int(t1))
        if t1 is not None:
            t0 = min(t0, int(t1))
    if t1 is None:
        t1 = max(int(t[-1]) + 1, int(t0)) if n else int(t0)
    t0, t1 = int(t0), int(t1)
    if t1 < t0:
        raise ValueError(f"window ends before it starts: t0={t0}, t1={t1}")
    lo, hi = search_sorted(t, np.array([t0, t1], dtype=np.int64))
    if not sorted_outside(t, lo, hi):
        raise ValueError("events are not sorted by time")
    return events[lo:hi], t0, t1


def columns(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The x, y, p, t fields of an event array, as views for the numba kernels."""
    return events["x"], events["y"], events["p"], events["t"]


def check_geometry(width: int, height: int) -> None:
    """Reject a sensor geometry that is not two positive integers."""
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_positive(name: str, value: int) -> None:
    """Reject a count (bins, steps, channels) that is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_choice(name: str, value: object, choices: tuple) -> None:
    """Reject an option that is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def raise_on_bad_events(outside: int, unsorted: bool, width: int, height: int) -> None:
    """Turn a kernel's report into an error: events off the sensor, or out of time order."""
    if outside:
        raise ValueError(f"{outside} events lie outside the {width}x{height} sensor")
    if unsorted:
        raise ValueError("events are not sorted by time")
