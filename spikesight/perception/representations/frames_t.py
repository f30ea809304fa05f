"""T-step frame sequences: the window cut into T frames of equal duration, for SNNs.

A multi-step spiking network takes one frame per time step: TA-SNN bins DVS128 Gesture
by duration (dt), SpikeYOLO and the depth network feed T steps per window. Each step is an
ON/OFF event frame of ``(t1 - t0) / T`` of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .binning import COUNT, MARK, accumulate_counts, bin_starts
from .window import check_choice, check_geometry, check_positive, columns, raise_on_bad_events, select_window

SequenceMode = Literal["count", "binary"]
SEQUENCE_MODES: tuple[SequenceMode, ...] = ("count", "binary")


def count_steps(
    events: np.ndarray, width: int, height: int, steps: int, binary: bool, t0: int | None, t1: int | None
) -> np.ndarray:
    """Counts (or 0/1 marks) per step, polarity and pixel, ``[steps, 2, H, W]`` float32.

    Step ``k`` holds the events of ``[t0 + k*d, t0 + (k+1)*d)`` with ``d = (t1 - t0) / steps``
    (boundaries exact in integers: an event on a boundary goes to the later step).
    """
    ev, t0, t1 = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    out = np.zeros((steps, 2, height, width), dtype=np.float32)
    hw = height * width
    starts = bin_starts(t, t0, max(t1 - t0, 1), steps)
    grow = MARK if binary else COUNT
    outside, unsorted = accumulate_counts(
        x, y, p, t, out.reshape(-1), width, height, starts, 2 * hw, hw, grow, np.inf
    )
    raise_on_bad_events(outside, unsorted, width, height)
    return out


def frame_sequence(
    events: np.ndarray,
    width: int,
    height: int,
    steps: int,
    mode: SequenceMode = "count",
    t0: int | None = None,
    t1: int | None = None,
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as ``[steps, 2, H, W]`` frames. See :class:`FrameSequence`."""
    check_geometry(width, height)
    check_positive("steps", steps)
    check_choice("mode", mode, SEQUENCE_MODES)
    return torch.from_numpy(count_steps(events, width, height, steps, mode == "binary", t0, t1))


@dataclass(frozen=True)
class FrameSequence:
    """The window cut into ``steps`` frames of equal duration, shape ``[T, 2, H, W]`` (float32).

    Step ``k`` holds the events of ``[t0 + k*d, t0 + (k+1)*d)``, ``d = (t1 - t0) / T``;
    channel 0 OFF, channel 1 ON. ``mode="count"`` counts events, ``"binary"`` marks pixels
    with at least one event (a spike).

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 5, 6])
    >>> FrameSequence(2, 1, steps=2, mode="binary")(ev, 0, 10).reshape(2, 4).tolist()
    [[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    """

    width: int
    height: int
    steps: int
    mode: SequenceMode = "count"

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        check_positive("steps", self.steps)
        check_choice("mode", self.mode, SEQUENCE_MODES)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.steps, 2, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return frame_sequence(events, self.width, self.height, self.steps, self.mode, t0, t1)
