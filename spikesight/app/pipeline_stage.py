"""Running the task pipelines beside playback: windows in, results out, through bounded queues.

The player cuts the stream into each pipeline's own windows (``Pipeline.window_us``) and hands
them to :class:`PipelineStage`, whose thread calls ``step`` in order and puts the results in
the GUI's :class:`~.frames.Outbox`. The window queue is bounded. By default (``wait=False``: a
live camera, and a file replayed in real time) a pipeline has at most ``max_waiting`` windows
waiting: a newer window pushes its oldest one out, counted as dropped, so a slow pipeline never
slows the player and its results stay fresh (at most one window waits while one is processed).
A dropped window's events still reach a pipeline that has ``skip(events, t_start, t_end)``
(buffered, not computed), so an input that spans several windows has no gaps.
With ``wait=True`` (the "process every window" mode of a file) the player waits for room instead,
so every window is processed and the replay slows to the pipeline's pace. In real time the
stage's thread can run at a lower priority (``nice``, Linux): when the CPU is short, the player
and the display come first and the pipeline drops more windows, rather than the display frames.

:meth:`PipelineStage.warm_up` runs each pipeline once on a dummy window and resets it, in the
stage's own thread (whose allocator arena the real steps will use), before playback starts: the
one-off costs of a first step (torch's buffers, compiled kernels) are paid while the stream
opens, not as a memory step and a stall in its first seconds.
"""

from __future__ import annotations

import logging
import os
import sys
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
class _Skip:
    """Windows dropped for a pipeline with ``skip``: their events still reach it, uncomputed."""

    pipeline: Pipeline
    events: list[np.ndarray]
    t_start: int
    t_end: int


@dataclass
class _Reset:
    pipeline: Pipeline | None


@dataclass
class _WarmUp:
    width: int
    height: int
    t_start: int
    done: bool = False


#: Events of the dummy warm-up window (spread over the sensor and the window).
WARM_UP_EVENTS = 4096
#: How much nicer (lower priority) the stage's thread runs in real time: measured on the loaded
#: 2-core machine, the display went from 25 to 29-30 FPS at 10 Mev/s (the detector from 6 to 4.5
#: windows a second).
REAL_TIME_NICE = 10


def lower_thread_priority(nice: int) -> bool:
    """Add ``nice`` to the calling thread's nice value (Linux, where each thread has its own);
    returns whether it changed (elsewhere, or when refused, nothing happens)."""
    if nice <= 0 or not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        log.debug("could not lower the pipeline thread's priority: %s", exc)
        return False
    return True


def dummy_window(pipeline: Pipeline, width: int, height: int, t_start: int) -> tuple[np.ndarray, int, int]:
    """A window of ``pipeline``'s length from ``t_start`` with events spread over a ``width`` x
    ``height`` sensor (none when the geometry is unknown), ON and OFF, in time order."""
    t_end = int(t_start) + int(pipeline.window_us)
    n = WARM_UP_EVENTS if width > 0 and height > 0 else 0
    k = np.arange(n, dtype=np.int64)
    ev = np.empty(n, EVENT_DTYPE)
    if n:
        ev["x"] = (k * 7919) % width
        ev["y"] = (k * 104_729) % height
        ev["p"] = k % 2
        ev["t"] = int(t_start) + k * (t_end - int(t_start)) // n
    return ev, int(t_start), t_end


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

    def __init__(self, outbox: Outbox, pipelines: list[Pipeline], max_windows: int = 8,
                 max_waiting: int = 1, nice: int = 0) -> None:
        if max_windows < 1 or max_waiting < 1:
            raise ValueError("the pipeline queue holds at least one window")
        self.outbox = outbox
        self.pipelines = list(pipelines)
        self.max_windows = int(max_windows)
        self.max_waiting = int(max_waiting)
        self.nice = int(nice)
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
            return self._waiting(None)

    def submit(self, pipeline: Pipeline, events: np.ndarray, t_start: int, t_end: int, epoch: int,
               wait: bool, interrupted: Callable[[], bool] | None = None) -> None:
        """Queue one window. ``wait``: when the queue is full, wait for room. Otherwise drop the
        pipeline's oldest waiting window when it already has ``max_waiting`` (and the oldest of
        all when the queue is full), counted in :attr:`dropped_windows`.

        A wait ends early when ``interrupted()`` turns true (the player was asked to seek or stop).
        """
        with self._cond:
            while (wait and self._full() and not self._stop and self.error is None
                   and not (interrupted is not None and interrupted())):
                self._cond.wait(0.05)
            if not wait:
                while self._waiting(pipeline) >= self.max_waiting:
                    self._drop_oldest(pipeline)
            if self._full():
                self._drop_oldest(None)
            self._queue.append(_Window(pipeline, events, int(t_start), int(t_end), epoch))
            self._cond.notify_all()

    def _waiting(self, pipeline: Pipeline | None) -> int:
        return sum(isinstance(w, _Window) and (pipeline is None or w.pipeline is pipeline)
                   for w in self._queue)

    def _full(self) -> bool:
        return self._waiting(None) >= self.max_windows

    def _drop_oldest(self, pipeline: Pipeline | None) -> None:
        """Drop the oldest waiting window (of ``pipeline``, or of any when ``None``). A pipeline with
        ``skip`` still gets its events (merged with a skip just before it), so buffered state such
        as the detector's input window stays complete."""
        for i, item in enumerate(self._queue):
            if isinstance(item, _Window) and (pipeline is None or item.pipeline is pipeline):
                self.dropped_windows += 1
                if not hasattr(item.pipeline, "skip"):
                    del self._queue[i]
                    return
                before = self._queue[i - 1] if i else None
                if isinstance(before, _Skip) and before.pipeline is item.pipeline:
                    before.events.append(item.events)
                    before.t_end = item.t_end
                    del self._queue[i]
                else:
                    self._queue[i] = _Skip(item.pipeline, [item.events], item.t_start, item.t_end)
                return

    def reset(self, pipeline: Pipeline | None = None) -> None:
        """Reset one pipeline's state (all of them when ``None``, forgetting queued windows)
        before its next window."""
        with self._cond:
            if pipeline is None:
                self._queue.clear()
            self._queue.append(_Reset(pipeline))
            self._cond.notify_all()

    def warm_up(self, width: int, height: int, t_start: int = 0,
                interrupted: Callable[[], bool] | None = None) -> None:
        """Step every pipeline once on a dummy window (:func:`dummy_window`) and reset it, in the
        stage's thread; returns when that is done (or the stage stops, or ``interrupted()``).
        A pipeline that fails on the dummy window is logged and left to fail, or not, on the
        stream itself."""
        item = _WarmUp(int(width), int(height), int(t_start))
        with self._cond:
            self._queue.append(item)
            self._cond.notify_all()
            while (not item.done and not self._stop and self.error is None
                   and not (interrupted is not None and interrupted())):
                self._cond.wait(0.05)

    def idle(self) -> bool:
        """No window waiting or being processed."""
        with self._cond:
            return not self._queue and not self._busy

    def _run(self) -> None:
        lower_thread_priority(self.nice)
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
                elif isinstance(item, _WarmUp):
                    self._warm_up(item)
                elif isinstance(item, _Skip):
                    events = item.events[0] if len(item.events) == 1 else np.concatenate(item.events)
                    item.pipeline.skip(events, item.t_start, item.t_end)
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

    def _warm_up(self, item: _WarmUp) -> None:
        for p in self.pipelines:
            t0 = time.perf_counter()
            try:
                p.step(*dummy_window(p, item.width, item.height, item.t_start))
            except Exception as exc:  # the stream's own windows decide whether it really fails
                log.warning("warming up the %s pipeline failed: %s", getattr(p, "task", "?"), exc)
            p.reset()
            log.info("warmed up the %s pipeline in %.2f s", getattr(p, "task", "?"), time.perf_counter() - t0)
        with self._cond:
            item.done = True
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
