"""Time surfaces: per polarity, how recently each pixel fired, decaying exponentially.

Lagorce et al., "HOTS: A Hierarchy of Event-Based Time-Surfaces for Pattern Recognition"
(TPAMI 2017), in its global form: ``S(p, y, x) = exp(-(t_ref - t_last(x, y, p)) / tau)``
where ``t_last`` is the pixel's latest event of that polarity in the window, and 0 for a
pixel without one. ``t_ref = t1 - 1``, the window's last microsecond, so with the default
window the newest event has value 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numba import njit

from .window import check_geometry, columns, raise_on_bad_events, select_window


@njit(cache=True, nogil=True)
def _latest_decay(x, y, p, t, out, width, height, t_ref, tau):
    """Walk the events newest first; the first seen at a cell is its latest: write its decay once."""
    hw = height * width
    outside = 0
    unsorted = False
    n = len(t)
    nxt = t[n - 1] if n else 0
    for i in range(n - 1, -1, -1):
        ti = t[i]
        if ti > nxt:
            unsorted = True
        nxt = ti
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            outside += 1
            continue
        k = yi * width + xi
        if p[i] > 0:
            k += hw
        if out[k] == 0:
            out[k] = math.exp(-(t_ref - ti) / tau)
    return outside, unsorted


def time_surface(
    events: np.ndarray, width: int, height: int, tau: float, t0: int | None = None, t1: int | None = None
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as a ``[2, H, W]`` time surface. See :class:`TimeSurface`."""
    check_geometry(width, height)
    _check_tau(tau)
    ev, t0, t1 = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    out = np.zeros((2, height, width), dtype=np.float32)
    outside, unsorted = _latest_decay(x, y, p, t, out.reshape(-1), width, height, t1 - 1, float(tau))
    raise_on_bad_events(outside, unsorted, width, height)
    return torch.from_numpy(out)


def _check_tau(tau: float) -> None:
    if not (isinstance(tau, int | float) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number of microseconds, got {tau!r}")


@dataclass(frozen=True)
class TimeSurface:
    """Exponentially decayed time of each pixel's latest event, per polarity: ``[2, H, W]`` float32.

    ``S(c, y, x) = exp(-(t_ref - t_last) / tau)`` with ``t_last`` the latest event of
    polarity ``c`` (0 OFF, 1 ON) at ``(x, y)`` in ``[t0, t1)``, ``t_ref = t1 - 1``, ``tau`` in
    µs; 0 where a pixel had no event. Values lie in (0, 1]. Stateless: events before ``t0``
    are forgotten.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 1, 0], [0, 0, 0], [1, 0, 1], [0, 5, 10])
    >>> [round(v, 4) for v in TimeSurface(2, 1, tau=10.0)(ev, 0, 11).reshape(-1).tolist()]
    [0.0, 0.6065, 1.0, 0.0]
    """

    width: int
    height: int
    tau: float

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        _check_tau(self.tau)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (2, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return time_surface(events, self.width, self.height, self.tau, t0, t1)
