"""Accumulated event frames and event videos: the viewer's picture without a GUI.

Time follows Metavision's player: frames come at a constant rate of event time (``fps``),
each showing the events of the last ``accumulation`` µs, so empty frames are drawn too.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .source import EventSource

# (background, ON, OFF) as RGB; Dark/Light/Gray follow Metavision's and DV's viewers in spirit.
PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    "dark": ((30, 37, 52), (216, 223, 236), (64, 126, 201)),
    "light": ((255, 255, 255), (64, 126, 201), (30, 37, 52)),
    "coolwarm": ((127, 127, 127), (180, 4, 38), (59, 76, 192)),
    "gray": ((128, 128, 128), (255, 255, 255), (0, 0, 0)),
}


def render_frame(events: np.ndarray, width: int, height: int, palette: str = "dark") -> np.ndarray:
    """An RGB uint8 image [height, width, 3]: each pixel coloured by the polarity of its latest event.

    >>> from spikesight.io import make_events
    >>> img = render_frame(make_events([1], [0], [1], [5]), 3, 2)
    >>> img.shape, tuple(img[0, 1]) == PALETTES["dark"][1]
    ((2, 3, 3), True)
    """
    bg, on, off = PALETTES[palette]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = bg
    if len(events):
        colours = np.array([off, on], dtype=np.uint8)
        # later events overwrite earlier ones: fancy assignment keeps the last write per pixel
        img[events["y"], events["x"]] = colours[(events["p"] > 0).astype(np.intp)]
    return img


@dataclass(frozen=True)
class FrameClock:
    """Frame times of event time: frame k ends at ``start + (k + 1) * period`` and shows the
    events of the ``accumulation`` µs before that."""

    fps: float
    accumulation: int

    @property
    def period(self) -> int:
        return max(1, int(round(1e6 / self.fps)))


def accumulated_frames(source: EventSource, clock: FrameClock, end: int | None = None
                       ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(t_end, events of [t_end - accumulation, t_end))`` at a constant frame rate.

    Reads the source once, keeping only the slices the accumulation window still covers.
    """
    keep = max(1, -(-clock.accumulation // clock.period))
    recent: deque[np.ndarray] = deque(maxlen=keep)
    for win in source.windows(delta_t=clock.period):
        if end is not None and win.t_start >= end:
            break
        recent.append(win.events)
        ev = np.concatenate(recent) if len(recent) > 1 else recent[0]
        lo = win.t_end - clock.accumulation
        if len(ev) and ev["t"][0] < lo:
            ev = ev[np.searchsorted(ev["t"], lo, side="left"):]
        yield win.t_end, ev


def render_video(source: EventSource, out: str | os.PathLike, clock: FrameClock, palette: str = "dark",
                 end: int | None = None, progress=None) -> int:
    """Write an accumulated event video (mp4v, or by extension for .avi) and return the frame count."""
    import cv2  # opencv-python-headless: only needed to encode video

    w, h = source.info.width, source.info.height
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if os.fspath(out).lower().endswith(".avi") else "mp4v"))
    writer = cv2.VideoWriter(os.fspath(out), fourcc, float(clock.fps), (w, h))
    if not writer.isOpened():
        raise OSError(f"{os.fspath(out)}: OpenCV cannot open a video writer for this path")
    n = 0
    try:
        for t_end, ev in accumulated_frames(source, clock, end):
            writer.write(render_frame(ev, w, h, palette)[:, :, ::-1])
            n += 1
            if progress is not None:
                progress(t_end)
    finally:
        writer.release()
    return n
