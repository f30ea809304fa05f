"""Running the task pipelines beside playback: windows in, results out, through bounded queues.

The player cuts the stream into each pipeline's own windows (``Pipeline.window_us``) and hands
them to :class:`PipelineStage`, whose thread calls ``step`` in order and puts the results in
the GUI's :class:`~.frames.Outbox`. The window queue is bounded: with ``wait=True`` (replaying a
file) the player waits for a slow pipeline, so every window is processed; with ``wait=False``
(a live camera) the oldest waiting window is dropped and counted, so the display keeps real time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..io.events import EVENT_DTYPE
from ..perception.pipelines import Pipeline
from .frames import Outbox

log = logging.getLogger(__name__)


@dataclass
class _Window:
    pipeline: Pipeline
    events: np.ndarray
    t_start: int
    t_end: int
    epoch: int


@dataclass
class _Reset:
    pipeline: Pipeline | None


class Windower:
    """Cuts a contiguous stream of slices into ``[t0 + k * window, t0 + (k + 1) * window)``."""

    def __init__(self, window_us: int, t0: int) -> None:
        if window_us <= 0:
            raise ValueError(f"a pipeline window must be positive, got {window_us} µs")
        self.window_us = int(window_us)
        self.t_start = int(t0)
        self._pieces: list[np.ndarray] = []

    def feed(self, events: np.ndarray, t_end: int) -> list[tuple[np.ndarray, int, int]]:
        """Add the events of a slice that ends at ``t_end``; return the windows it completed."""
        if len(events):
            self._pieces.append(events)
        out = []
        while t_end >= self.t_start + self.window_us:
            w_end = self.t_start + self.window_us
            ev = np.concatenate(self._pieces) if len(self._pieces) > 1 else (
                self._pieces[0] if self._pieces else np.empty(0, EVENT_DTYPE))
            k = int(np.searchsorted(ev["t"], w_end, side="left"))
            out.append((ev[:k], self.t_start, w_end))
            self._pieces = [ev[k:]] if k < len(ev) else []
            self.t_start = w_end
        return out

    def flush(self) -> list[tuple[np.ndarray, int, int]]:
        """At the end of the stream: the last, unfinished window, when it holds events."""
        if not any(len(p) for p in self._pieces):
            return []
        return self.feed(np.empty(0, EVENT_DTYPE), self.t_start + self.window_us)


class PipelineStage:
    """A thread that steps pipelines on queued windows and posts their results."""

    def __init__(self, outbox: Outbox, pipelines: list[Pipeline], max_windows: int = 8) -> None:
        self.outbox = outbox
        self.pipelines = list(pipelines)
        self.max_windows = int(max_windows)
        self.dropped_windows = 0
        self.processed_windows = 0
        self.error: BaseException | None = None
        self._queue: deque[_Window | _Reset] = deque()
        self._stop = False
        self._busy = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spikesight-pipelines", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        with self._cond:
            return sum(isinstance(w, _Window) for w in self._queue)

    def submit(self, pipeline: Pipeline, events: np.ndarray, t_start: int, t_end: int, epoch: int,
               wait: bool, interrupted: Callable[[], bool] | None = None) -> None:
        """Queue one window; when the queue is full, wait (``wait``) or drop the oldest window.

        A wait ends early when ``interrupted()`` turns true (the player was asked to seek or stop).
        """
        with self._cond:
            while (wait and self._full() and not self._stop and self.error is None
                   and not (interrupted is not None and interrupted())):
                self._cond.wait(0.05)
            if self._full():
                for i, item in enumerate(self._queue):
                    if isinstance(item, _Window):
                        del self._queue[i]
                        self.dropped_windows += 1
                        break
            self._queue.append(_Window(pipeline, events, int(t_start), int(t_end), epoch))
            self._cond.notify_all()

    def _full(self) -> bool:
        return sum(isinstance(w, _Window) for w in self._queue) >= self.max_windows

    def reset(self, pipeline: Pipeline | None = None) -> None:
        """Reset one pipeline's state (all of them when ``None``, forgetting queued windows)
        before its next window."""
        with self._cond:
            if pipeline is None:
                self._queue.clear()
            self._queue.append(_Reset(pipeline))
            self._cond.notify_all()

    def idle(self) -> bool:
        """No window waiting or being processed."""
        with self._cond:
            return not self._queue and not self._busy

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    item = self._queue.popleft()
                    self._busy = True
                    self._cond.notify_all()
                if isinstance(item, _Reset):
                    for p in self.pipelines if item.pipeline is None else [item.pipeline]:
                        p.reset()
                else:
                    t0 = time.perf_counter()
                    result = item.pipeline.step(item.events, item.t_start, item.t_end)
                    if not result.latency_s:
                        result.latency_s = time.perf_counter() - t0
                    self.processed_windows += 1
                    self.outbox.put_results([result], item.epoch)
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        except BaseException as exc:  # the player re-raises it in its own thread
            log.exception("pipeline failed")
            with self._cond:
                self.error = exc
                self._busy = False
                self._queue.clear()
                self._cond.notify_all()

    def cancel(self) -> None:
        """Ask the thread to end after the window it is on (does not wait)."""
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()

    def stop(self, timeout: float | None = 5.0) -> None:
        """End the thread and wait for it."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
