"""Events from a video file (``video:PATH``) or a webcam (``webcam:N``) through the emulator.

OpenCV (``opencv-python-headless``, the ``gui`` extra) reads the frames; it is imported here
only, when such a source is opened. Frames pass through :class:`~spikesight.io.emulator.Emulator`
one by one, and each frame interval's events come out as one chunk.

Timestamps: a video file's frame ``i`` is at ``round(i * 1e6 / fps)`` µs (the container's
frame rate; 30 fps, logged, where it gives none), so the stream is the same on every pass. A
webcam's frames are stamped with the monotonic clock when they arrive, in µs since the source
was opened. Seeking a video replays the emulator from the first frame (its state depends on
every earlier frame), so a seek costs a pass over the frames before the target; a webcam cannot
seek, and a new pass simply continues the live stream.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import fields

import numpy as np

from .emulator import Emulator, EmulatorConfig
from .errors import UnsupportedFormatError
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
_CONFIG_FIELDS = {f.name for f in fields(EmulatorConfig)}


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "video: and webcam: sources need OpenCV: pip install opencv-python-headless"
        ) from exc
    return cv2


def _config(config: EmulatorConfig | None, options: dict) -> EmulatorConfig:
    unknown = set(options) - _CONFIG_FIELDS
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}; emulator options: {sorted(_CONFIG_FIELDS)}")
    base = config or EmulatorConfig()
    return EmulatorConfig(**{**{f: getattr(base, f) for f in _CONFIG_FIELDS}, **options})


class VideoSource(EventSource):
    """Emulated events of a video file or a camera that OpenCV can open.

    ``target``: a file path, or a camera index with ``live=True``. ``geometry=(w, h)`` resizes
    the frames (area interpolation) before emulation; ``config`` and keyword options
    (``threshold_on=0.25``, ``seed=3``, ... any :class:`EmulatorConfig` field) set the model.
    """

    def __init__(
        self,
        target: str | int,
        *,
        live: bool = False,
        config: EmulatorConfig | None = None,
        geometry: tuple[int, int] | None = None,
        strict: bool = True,
        **options,
    ) -> None:
        cv2 = _cv2()
        super().__init__(None if live else os.fspath(target), strict)
        self._live = live
        self._target = target
        self._geometry = None if geometry is None else (int(geometry[0]), int(geometry[1]))
        self.config = _config(config, options)
        if not live and not os.path.exists(self.path):
            raise FileNotFoundError(self.path)
        self._cap = self._open()
        if self._geometry is not None:
            width, height = self._geometry
        else:
            width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not live and not (np.isfinite(fps) and fps > 0):
            log.info("%s: no frame rate in the container; assuming %g fps", self.path, DEFAULT_FPS)
            fps = DEFAULT_FPS
        self._fps = fps
        self._t_open = time.monotonic_ns()
        meta = {"emulator": repr(self.config)}
        if fps > 0:
            meta["fps"] = f"{fps:g}"
        if not live:
            meta["frames"] = str(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
            self._cap.release()  # each pass opens its own capture
        self.info = StreamInfo(
            width=width,
            height=height,
            format="webcam" if live else "video",
            path=self.path if not live else f"webcam:{target}",
            metadata=meta,
        )

    def _open(self):
        cv2 = _cv2()
        cap = cv2.VideoCapture(int(self._target) if self._live else self.path)
        if not cap.isOpened():
            cap.release()
            if self._live:
                raise OSError(f"webcam:{self._target}: OpenCV cannot open camera {self._target}")
            raise UnsupportedFormatError(self.path, None, "OpenCV cannot open this file as a video")
        return cap

    def _frames(self, cap) -> Iterator[tuple[np.ndarray, int]]:
        """Frames and their timestamps (µs) from ``cap``, resized to the geometry."""
        cv2 = _cv2()
        i, last = 0, -1
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                if self._live:
                    log.warning("webcam:%s: the camera stopped delivering frames", self._target)
                return
            if self._geometry is not None and (frame.shape[1], frame.shape[0]) != self._geometry:
                frame = cv2.resize(frame, self._geometry, interpolation=cv2.INTER_AREA)
            if self._live:
                t = max((time.monotonic_ns() - self._t_open) // 1000, last + 1)
            else:
                t = round(i * 1e6 / self._fps)
            last = t
            i += 1
            yield frame, t

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        cap = self._cap if self._live else self._open()
        skip = 0 if checkpoint is None or self._live else checkpoint.offset
        emulator = Emulator(self.config)
        try:
            for i, (frame, t) in enumerate(self._frames(cap)):
                events = emulator.feed(frame, t)
                if i >= skip and i > 0:
                    yield Chunk(Checkpoint(i), events)
        finally:
            if not self._live:
                cap.release()

    def _close(self) -> None:
        self._cap.release()


def open_video(rest: str, **kwargs) -> VideoSource:
    """The opener of ``video:PATH``."""
    return VideoSource(rest, live=False, **kwargs)


def open_webcam(rest: str, **kwargs) -> VideoSource:
    """The opener of ``webcam:N`` (``webcam:`` alone is camera 0)."""
    rest = rest.strip() or "0"
    if not rest.isdigit():
        raise ValueError(f"webcam:{rest}: expected a camera index, such as webcam:0")
    return VideoSource(int(rest), live=True, **kwargs)
