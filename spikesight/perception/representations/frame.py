"""Event frames: one image of the window's events, per polarity or signed.

The simplest representation: what a viewer shows, and the input of frame-based networks.
Channel 0 is OFF (p = 0), channel 1 is ON (p > 0), as everywhere in this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .binning import COUNT, MARK, accumulate_counts, accumulate_signed, bin_starts
from .window import check_choice, check_geometry, columns, raise_on_bad_events, select_window

FrameMode = Literal["count", "signed", "binary"]
FRAME_MODES: tuple[FrameMode, ...] = ("count", "signed", "binary")


def event_frame(
    events: np.ndarray,
    width: int,
    height: int,
    mode: FrameMode = "count",
    t0: int | None = None,
    t1: int | None = None,
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as one frame (float32). See :class:`EventFrame`."""
    check_geometry(width, height)
    check_choice("mode", mode, FRAME_MODES)
    ev, _, _ = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    if mode == "signed":
        out = np.zeros((1, height, width), dtype=np.float32)
        outside, unsorted = accumulate_signed(x, y, p, t, out.reshape(-1), width, height)
    else:
        out = np.zeros((2, height, width), dtype=np.float32)
        grow = MARK if mode == "binary" else COUNT
        starts = bin_starts(t, 0, 1, 1)
        outside, unsorted = accumulate_counts(
            x, y, p, t, out.reshape(-1), width, height, starts, 0, height * width, grow, np.inf
        )
    raise_on_bad_events(outside, unsorted, width, height)
    return torch.from_numpy(out)


@dataclass(frozen=True)
class EventFrame:
    """Events of one window as an image.

    Modes and shapes (float32):

    - ``"count"``: ``[2, H, W]``, events per pixel, channel 0 OFF, channel 1 ON;
    - ``"signed"``: ``[1, H, W]``, ON minus OFF events per pixel;
    - ``"binary"``: ``[2, H, W]``, 1 where a pixel had an event of that polarity, else 0.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 0, 2], [0, 0, 1], [1, 1, 0], [0, 5, 9])
    >>> EventFrame(3, 2)(ev).tolist()
    [[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
    >>> EventFrame(3, 2, "signed")(ev).tolist()
    [[[2.0, 0.0, 0.0], [0.0, 0.0, -1.0]]]
    """

    width: int
    height: int
    mode: FrameMode = "count"

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        check_choice("mode", self.mode, FRAME_MODES)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1 if self.mode == "signed" else 2, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return event_frame(events, self.width, self.height, self.mode, t0, t1)
