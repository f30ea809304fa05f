"""Cumulative stacking for multi-step SNNs (MSS-DepthNet's input, as reconstructed).

MSS-DepthNet (Wu et al., arXiv 2211.12156) and its successor (IEEE TCDS 2024) propose "a
new event representation designed for multistep SNNs", summarised elsewhere as "cumulative
stacking". Neither the paper's full text nor code could be found, so this module builds
the reconstruction in the project's depth notes, which is an ASSUMPTION, not the paper's
verified definition: the window is cut into T parts, ``d = (t1 - t0) / T``, and step
``k = 1..T`` sees the ON/OFF histogram of every event since the window's start,
``X_k(c, y, x) = #{i : t0 <= t_i < t0 + k*d, x_i = x, y_i = y, p_i = c}``. So the last
step is the whole window's event frame, and each step adds the newest slice to the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .frames_t import count_steps
from .window import check_geometry, check_positive


def cumulative_stack(
    events: np.ndarray, width: int, height: int, steps: int, t0: int | None = None, t1: int | None = None
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as ``[steps, 2, H, W]`` cumulative counts. See :class:`CumulativeStack`."""
    check_geometry(width, height)
    check_positive("steps", steps)
    out = count_steps(events, width, height, steps, False, t0, t1)
    for k in range(1, steps):
        np.add(out[k], out[k - 1], out=out[k])
    return torch.from_numpy(out)


@dataclass(frozen=True)
class CumulativeStack:
    """Counts of all events since the window's start, at the end of each of ``steps`` parts.

    Shape ``[T, 2, H, W]`` (float32), channel 0 OFF, channel 1 ON: step ``k`` (0-based)
    counts the events of ``[t0, t0 + (k+1)*d)``, ``d = (t1 - t0) / T`` (boundaries exact in
    integers). Reconstructed from a summary of MSS-DepthNet, not from the paper: see the
    module docstring.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 1, 1], [0, 0, 0], [1, 1, 0], [0, 5, 6])
    >>> CumulativeStack(2, 1, steps=2)(ev, 0, 10)[:, 1].reshape(2, 2).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """

    width: int
    height: int
    steps: int

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        check_positive("steps", self.steps)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.steps, 2, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return cumulative_stack(events, self.width, self.height, self.steps, t0, t1)
