"""Voxel grids: events spread over B time bins with bilinear weights (E2VID / E2Depth).

Rebecq et al., "High Speed and High Dynamic Range Video with an Event Camera" (E2VID,
TPAMI 2019), used by E2Depth on MVSEC with B = 5:
``V(b, y, x) = sum_i p_i [x_i = x][y_i = y] max(0, 1 - |b - t*_i|)``,
``t*_i = (B - 1)(t_i - t_first) / (t_last - t_first)``, polarity ``p_i`` in {-1, +1}.
E2Depth then normalises the non-zero entries to mean 0 and standard deviation 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from numba import njit

from .window import check_choice, check_geometry, check_positive, columns, raise_on_bad_events, select_window

VoxelSpan = Literal["events", "window"]
VOXEL_SPANS: tuple[VoxelSpan, ...] = ("events", "window")


@njit(cache=True, nogil=True)
def _accumulate_bilinear(x, y, p, t, out, width, height, origin, length, bins):
    """Add ``±(1 - frac)`` to bin ``floor(t*)``, ``±frac`` to the next; ``t* = (B-1)(t - origin) / length``.

    One correctly rounded division of exact integers, so ``t*`` is exact whenever it is a
    whole number: an event on a bin centre puts nothing (not a rounding residue) next door.
    """
    hw = height * width
    outside = 0
    unsorted = False
    prev = t[0] if len(t) else 0
    for i in range(len(t)):
        ti = t[i]
        if ti < prev:
            unsorted = True
        prev = ti
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        if xi >= width or yi >= height:
            outside += 1
            continue
        ts = ((ti - origin) * (bins - 1)) / length
        lo = int(ts)
        if lo > bins - 1:
            lo = bins - 1
        frac = ts - lo
        v = 1.0 if p[i] > 0 else -1.0
        k = lo * hw + yi * width + xi
        out[k] += v * (1.0 - frac)
        if lo + 1 < bins:
            out[k + hw] += v * frac
    return outside, unsorted


def voxel_grid(
    events: np.ndarray,
    width: int,
    height: int,
    bins: int = 5,
    span: VoxelSpan = "events",
    normalise: bool = False,
    t0: int | None = None,
    t1: int | None = None,
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as a ``[bins, H, W]`` voxel grid. See :class:`VoxelGrid`."""
    check_geometry(width, height)
    check_positive("bins", bins)
    check_choice("span", span, VOXEL_SPANS)
    ev, t0, t1 = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    out = np.zeros((bins, height, width), dtype=np.float32)
    if span == "events":
        origin = int(t[0]) if len(t) else t0
        length = max(int(t[-1]) - origin, 1) if len(t) else 1
    else:
        origin, length = t0, max(t1 - t0, 1)
    outside, unsorted = _accumulate_bilinear(x, y, p, t, out.reshape(-1), width, height, origin, length, bins)
    raise_on_bad_events(outside, unsorted, width, height)
    if normalise:
        _normalise_nonzero(out)
    return torch.from_numpy(out)


def _normalise_nonzero(v: np.ndarray) -> None:
    """E2Depth's normalisation, in place: non-zero entries to mean 0, std 1 (population std)."""
    mask = v != 0
    if not mask.any():
        return
    vals = v[mask].astype(np.float64)
    vals -= vals.mean()
    std = np.sqrt(np.mean(vals * vals))
    if std > 0:
        vals /= std
    v[mask] = vals


@dataclass(frozen=True)
class VoxelGrid:
    """Events spread over ``bins`` time bins with bilinear weights, shape ``[B, H, W]`` (float32).

    An event at normalised time ``t* = (B - 1)(t - origin) / length`` adds ``±(1 - |b - t*|)``
    to the two bins around ``t*`` (+ for ON, - for OFF), where

    - ``span="events"`` (default, E2VID): ``origin``, ``origin + length`` are the first and
      last events of the window (``length`` 1 if they coincide);
    - ``span="window"``: ``origin = t0``, ``length = t1 - t0``, the same for every window.

    ``normalise=True`` applies E2Depth's normalisation: non-zero entries to mean 0 and
    (population) standard deviation 1.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 1, 0], [0, 0, 0], [1, 0, 1], [0, 10, 20])
    >>> VoxelGrid(2, 1, bins=3)(ev).reshape(3, 2).tolist()
    [[1.0, 0.0], [0.0, -1.0], [1.0, 0.0]]
    """

    width: int
    height: int
    bins: int = 5
    span: VoxelSpan = "events"
    normalise: bool = False

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        check_positive("bins", self.bins)
        check_choice("span", self.span, VOXEL_SPANS)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.bins, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return voxel_grid(events, self.width, self.height, self.bins, self.span, self.normalise, t0, t1)
