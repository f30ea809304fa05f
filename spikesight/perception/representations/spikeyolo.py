"""SpikeYOLO's Gen1 input: T slices, each the latest event per pixel on a grey background.

Facts from SpikeYOLO's Gen1 preprocessing (BICLab/SpikeYOLO, ``SpikeYOLO_for_Gen1/
pre_gen1.py``; read for its behaviour only, no code taken): the 250 ms before each label
are read as T consecutive slices of equal duration; each slice is an image initialised to
grey 127 where a pixel with events takes the value of its latest event, 255 for ON and 0
for OFF; the image has 3 identical channels (it feeds an RGB YOLO stem) and is stored as
uint8, then divided by 255 at training time. Its script ships with T = 4 (its comments
and loader say 5), so ``steps`` has no default here. SpikeYOLO resizes these images with
linear interpolation; here, fitting to the model is the explicit :mod:`.resize` step on
events instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numba import njit

from .binning import bin_starts
from .window import check_geometry, check_positive, columns, raise_on_bad_events, select_window

BACKGROUND = 127
ON = 255
OFF = 0


@njit(cache=True, nogil=True)
def _paint_latest(x, y, p, t, out, width, height, starts, step_stride, on, off):
    """Write ``on``/``off`` at each event's pixel in its step's first channel; later events win."""
    outside = 0
    unsorted = False
    prev = t[0] if len(t) else 0
    for k in range(len(starts) - 1):
        base = k * step_stride
        for i in range(starts[k], starts[k + 1]):
            ti = t[i]
            unsorted |= ti < prev
            prev = ti
            xi = np.int64(x[i])
            yi = np.int64(y[i])
            if xi >= width or yi >= height:
                outside += 1
                continue
            out[base + yi * width + xi] = on if p[i] > 0 else off
    return outside, unsorted


def spikeyolo_frames(
    events: np.ndarray,
    width: int,
    height: int,
    steps: int,
    channels: int = 3,
    normalise: bool = True,
    t0: int | None = None,
    t1: int | None = None,
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as SpikeYOLO's ``[steps, C, H, W]`` input. See :class:`SpikeYOLOFrames`."""
    check_geometry(width, height)
    check_positive("steps", steps)
    check_positive("channels", channels)
    ev, t0, t1 = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    if normalise:
        out = np.full((steps, channels, height, width), BACKGROUND / 255, dtype=np.float32)
        on, off = ON / 255, OFF / 255
    else:
        out = np.full((steps, channels, height, width), BACKGROUND, dtype=np.uint8)
        on, off = float(ON), float(OFF)
    step_stride = channels * height * width
    starts = bin_starts(t, t0, max(t1 - t0, 1), steps)
    flat = out.reshape(-1)
    outside, unsorted = _paint_latest(x, y, p, t, flat, width, height, starts, step_stride, on, off)
    raise_on_bad_events(outside, unsorted, width, height)
    if channels > 1:
        out[:, 1:] = out[:, :1]
    return torch.from_numpy(out)


@dataclass(frozen=True)
class SpikeYOLOFrames:
    """SpikeYOLO's Gen1 input, shape ``[T, C, H, W]``: per slice, the latest event per pixel.

    The window is cut into ``steps`` slices of equal duration (boundaries exact in
    integers); in each slice a pixel is 1 (ON) or 0 (OFF) after its latest event in that
    slice, and 127/255 (grey) without events. ``C = channels`` identical copies (3 in
    SpikeYOLO, whose YOLO stem takes RGB; 1 to save memory). ``normalise=False`` gives
    SpikeYOLO's stored uint8 values 255 / 0 / 127 instead. Events with the same timestamp at
    one pixel: the last in the array wins. SpikeYOLO uses 250 ms windows ending at the label.

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 0, 1], [0, 0, 0], [1, 0, 1], [0, 1, 7])
    >>> SpikeYOLOFrames(2, 1, steps=2, channels=1, normalise=False)(ev, 0, 10).reshape(2, 2).tolist()
    [[0, 127], [127, 255]]
    """

    width: int
    height: int
    steps: int
    channels: int = 3
    normalise: bool = True

    def __post_init__(self) -> None:
        check_geometry(self.width, self.height)
        check_positive("steps", self.steps)
        check_positive("channels", self.channels)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.steps, self.channels, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return spikeyolo_frames(
            events, self.width, self.height, self.steps, self.channels, self.normalise, t0, t1
        )
