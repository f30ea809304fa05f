"""A background-activity noise filter for the event view, streaming and stateful.

An event is kept when one of the 8 neighbouring pixels had an event less than ``window_us``
before it (the classic background-activity filter, as dv-processing's
``BackgroundActivityNoiseFilter``): isolated events are sensor noise, moving edges fire in
neighbourhoods. Only the view is filtered; pipelines and recordings get every event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NEVER = np.iinfo(np.int64).min // 2


@njit(cache=True, nogil=True)
def _filter(x, y, t, window, last, keep):
    h, w = last.shape
    for i in range(x.shape[0]):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        ti = t[i]
        if xi >= w or yi >= h:
            keep[i] = False
            continue
        support = False
        for dy in range(-1, 2):
            yy = yi + dy
            if yy < 0 or yy >= h:
                continue
            for dx in range(-1, 2):
                xx = xi + dx
                if (dx == 0 and dy == 0) or xx < 0 or xx >= w:
                    continue
                if ti - last[yy, xx] < window:
                    support = True
        keep[i] = support
        last[yi, xi] = ti


class BackgroundActivityFilter:
    """Keeps events supported by a neighbour within ``window_us``; remembers across calls."""

    def __init__(self, width: int, height: int, window_us: int) -> None:
        if window_us <= 0:
            raise ValueError(f"window_us must be positive, got {window_us}")
        self.window_us = int(window_us)
        self._last = np.full((height, width), _NEVER, np.int64)
        self.seen = 0
        self.kept = 0

    def reset(self) -> None:
        """Forget the past (after a seek)."""
        self._last[:] = _NEVER

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if not len(events):
            return events
        keep = np.empty(len(events), np.bool_)
        _filter(events["x"], events["y"], events["t"], self.window_us, self._last, keep)
        out = events[keep]
        self.seen += len(events)
        self.kept += len(out)
        return out
