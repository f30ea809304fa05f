"""Recording the played stream to an event file in a thread of its own.

The worker hands each slice to :meth:`Recorder.write` and goes on; a thread encodes and writes.
Nothing is dropped: if the disk falls far behind (``max_pending`` events waiting), ``write``
waits, which slows playback but never the display. A live camera cannot wait: with
``block=False`` such events are left out of the recording instead, and counted in
:attr:`Recorder.dropped`. ``close`` (or an error) always closes the
writer, so a stopped or failed recording leaves a file its reader accepts.

Writers that have a ``flush()`` are flushed at most every ``flush_interval_s`` seconds, so a
recording cut short by a crash keeps what was flushed. :func:`open_recording` makes the writer
the viewer records through: a :class:`~.journal.RecordingWriter`, whose file on disk is RAW
until the recording stops, so a crash always leaves a file that opens (see :mod:`.journal`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

import numpy as np

from ..io import open_writer
from ..io.raw import MAX_COORD
from ..io.writer import EventWriter
from .journal import RecordingWriter

log = logging.getLogger(__name__)


class Recorder:
    """Writes event arrays to ``writer`` from a background thread, in order."""

    def __init__(self, writer: EventWriter, max_pending: int = 4_000_000,
                 flush_interval_s: float = 1.0) -> None:
        self.writer = writer
        self.path = writer.path
        self.max_pending = int(max_pending)
        self.flush_interval_s = float(flush_interval_s)
        self.error: BaseException | None = None
        self.dropped = 0
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
    def time_offset_us(self) -> int:
        """The camera-clock time (µs) that the times in the file are relative to (0: none);
        a RAW file keeps it in its header."""
        return int(getattr(self.writer, "time_offset_us", 0))

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def write(self, events: np.ndarray, block: bool = True) -> None:
        """Queue events for writing; while ``max_pending`` events are queued, wait (``block``)
        or leave these out and count them in :attr:`dropped`."""
        if not len(events):
            return
        with self._cond:
            if self.error is not None:
                raise RuntimeError(f"recording to {self.path} failed: {self.error}") from self.error
            if self._closing:
                raise RuntimeError(f"recording to {self.path} is closed")
            if not block and self._pending >= self.max_pending:
                self.dropped += len(events)
                return
            while self._pending >= self.max_pending and self.error is None:
                self._cond.wait(0.1)
            self._queue.append(events)
            self._pending += len(events)
            self._cond.notify_all()

    def _run(self) -> None:
        flush = getattr(self.writer, "flush", None)
        flushed = time.monotonic()
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    ev = self._queue.popleft()
                self.writer.write(ev)
                if flush is not None and time.monotonic() - flushed >= self.flush_interval_s:
                    flush()
                    flushed = time.monotonic()
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


def open_recording(path: str | os.PathLike, width: int, height: int) -> Recorder:
    """A :class:`Recorder` writing to ``path`` (format from its extension) so that a crash
    leaves a file that opens: through a :class:`~.journal.RecordingWriter`, except for
    geometries RAW cannot hold (over 2048 pixels a side), written directly and logged."""
    if max(int(width), int(height)) > MAX_COORD:
        log.warning("%s: %dx%d is too large for a crash-safe (RAW) recording; writing it directly",
                    path, width, height)
        return Recorder(open_writer(path, width, height))
    return Recorder(RecordingWriter(path, width, height))
