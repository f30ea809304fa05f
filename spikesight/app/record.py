"""Recording the played stream to an event file in a thread of its own.

The worker hands each slice to :meth:`Recorder.write` and goes on; a thread encodes and writes.
Nothing is dropped: if the disk falls far behind (``max_pending`` events waiting), ``write``
waits, which slows playback but never the display. ``close`` (or an error) always closes the
writer, so a stopped or failed recording leaves a file its reader accepts.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import numpy as np

from ..io.writer import EventWriter

log = logging.getLogger(__name__)


class Recorder:
    """Writes event arrays to ``writer`` from a background thread, in order."""

    def __init__(self, writer: EventWriter, max_pending: int = 4_000_000) -> None:
        self.writer = writer
        self.path = writer.path
        self.max_pending = int(max_pending)
        self.error: BaseException | None = None
        self._queue: deque[np.ndarray] = deque()
        self._pending = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="spikesight-recorder", daemon=True)
        self._thread.start()

    @property
    def count(self) -> int:
        """Events written so far."""
        return self.writer.count

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def write(self, events: np.ndarray) -> None:
        """Queue events for writing (waits only while ``max_pending`` events are queued)."""
        if not len(events):
            return
        with self._cond:
            if self.error is not None:
                raise RuntimeError(f"recording to {self.path} failed: {self.error}") from self.error
            if self._closing:
                raise RuntimeError(f"recording to {self.path} is closed")
            while self._pending >= self.max_pending and self.error is None:
                self._cond.wait(0.1)
            self._queue.append(events)
            self._pending += len(events)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    ev = self._queue.popleft()
                self.writer.write(ev)
                with self._cond:
                    self._pending -= len(ev)
                    self._cond.notify_all()
        except BaseException as exc:  # report any failure to the caller of write/close
            log.exception("recording to %s failed", self.path)
            with self._cond:
                self.error = exc
                self._queue.clear()
                self._pending = 0
                self._cond.notify_all()
        finally:
            try:
                self.writer.close()
            except Exception as exc:
                log.exception("closing the recording %s failed", self.path)
                if self.error is None:
                    self.error = exc

    def close(self, timeout: float | None = None) -> None:
        """Write what is queued, close the file, and wait for the thread (idempotent)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
