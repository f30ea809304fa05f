"""The event view's picture: each pixel takes the colour of its latest event, faded by its age.

One pass over a frame's events (numba) counts the events per pixel and paints each event over
the one before it at that pixel, so the latest event of a pixel decides its colour. Without decay
that is exactly :func:`spikesight.io.video.render_frame`; with decay the colour moves towards the
background with the age of that event at the frame's end, linearly over the accumulation time or
exponentially. Only pixels with events are touched, so the cost follows the event count, not the
sensor size.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..io.video import PALETTES

#: The exponential decay's time constant as a fraction of the accumulation time: the oldest
#: events of a frame keep exp(-1 / 0.25) = 2 % of their colour.
EXP_TAU_FRACTION = 0.25
DECAY_MODES = {"none": 0, "linear": 1, "exponential": 2}


@njit(cache=True, nogil=True)
def decay_weight(age: float, accumulation: float, mode: int) -> float:
    """How much of its colour an event ``age`` µs old keeps (mode: 0 none, 1 linear, 2 exponential)."""
    if mode == 0:
        return 1.0
    acc = max(1.0, accumulation)
    if mode == 1:
        w = 1.0 - age / acc
    else:
        w = math.exp(-age / (EXP_TAU_FRACTION * acc))
    return min(1.0, max(0.0, w))


@njit(cache=True, nogil=True)
def _paint(x, y, p, t, t_end, accumulation, mode, bg, on, off, img, counts):
    h, w = counts.shape
    for i in range(x.shape[0]):
        xi = x[i]
        yi = y[i]
        if xi >= w or yi >= h:
            continue
        counts[yi, xi] += 1
        wt = decay_weight(float(t_end - t[i]), accumulation, mode)
        for k in range(3):
            c = on[k] if p[i] > 0 else off[k]
            img[yi, xi, k] = np.uint8(math.floor(bg[k] + wt * (c - bg[k]) + 0.5))


def render(events: np.ndarray, width: int, height: int, t_end: int, accumulation: int,
           palette: str = "dark", decay: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 image [H, W, 3] and events per pixel (uint32 [H, W]) of time-sorted events.

    Events outside the geometry are ignored.
    """
    bg, on, off = (np.asarray(c, np.float64) for c in PALETTES[palette])
    mode = DECAY_MODES[decay]
    img = np.empty((height, width, 3), np.uint8)
    img[:] = bg.astype(np.uint8)
    counts = np.zeros((height, width), np.uint32)
    if len(events):
        _paint(events["x"], events["y"], events["p"], events["t"], int(t_end), float(accumulation), mode,
               bg, on, off, img, counts)
    return img, counts
