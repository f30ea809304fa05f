"""Exporting the rendered view as an MP4 video, encoded in a thread of its own.

The GUI hands each frame it shows (RGB uint8) to :meth:`VideoExporter.add`; a thread encodes
with OpenCV. The queue is bounded: when the encoder falls behind, frames are dropped and
counted, so exporting never stalls the display.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque

import numpy as np

log = logging.getLogger(__name__)


class VideoExporter:
    """Encodes RGB frames to ``path`` (mp4v; MJPG for ``.avi``) at ``fps`` frames per second."""

    def __init__(self, path: str | os.PathLike, fps: float, max_pending: int = 8) -> None:
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.max_pending = int(max_pending)
        self.written = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self.size: tuple[int, int] | None = None
        self._queue: deque[np.ndarray] = deque()
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="spikesight-mp4", daemon=True)
        self._thread.start()

    def add(self, rgb: np.ndarray) -> bool:
        """Queue one frame; returns False when it was dropped (encoder behind, or closed)."""
        with self._cond:
            if self._closing or self.error is not None:
                return False
            if len(self._queue) >= self.max_pending:
                self.dropped += 1
                return False
            self._queue.append(rgb)
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        import cv2

        writer = None
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    rgb = self._queue.popleft()
                if writer is None:
                    h, w = rgb.shape[:2]
                    # most codecs want even sizes
                    self.size = (w - w % 2, h - h % 2)
                    codec = "MJPG" if self.path.lower().endswith(".avi") else "mp4v"
                    writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*codec), self.fps, self.size)
                    if not writer.isOpened():
                        raise OSError(f"{self.path}: OpenCV cannot open a video writer for this path")
                if (rgb.shape[1], rgb.shape[0]) != self.size:
                    rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
                writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
                self.written += 1
        except BaseException as exc:
            log.exception("video export to %s failed", self.path)
            self.error = exc
        finally:
            if writer is not None:
                writer.release()

    def close(self, timeout: float | None = None) -> None:
        """Encode what is queued, finish the file, and wait for the thread (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
