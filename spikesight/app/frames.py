"""What the worker hands to the GUI, and the bounded mailbox it goes through.

The worker puts rendered frames and pipeline results into an :class:`Outbox`; the GUI takes
them when it can. The outbox never grows without bound: a frame that finds it full pushes the
oldest one out (the GUI shows the newest picture) and is counted as dropped; results are kept
in a bounded deque the same way. The GUI is woken at most once per batch (``on_ready``), so a
GUI that falls behind does not pile up wake-ups in its own event queue either.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..perception.results import Result


@dataclass
class Frame:
    """One rendered frame: the events of ``[t_end - accumulation, t_end)``.

    ``image`` is RGB uint8 [H, W, 3] and ``counts`` the events per pixel [H, W];
    ``n_on``/``n_off`` count the events of the last period (``period_us``), for rates.
    ``epoch`` tells frames from before and after a seek apart.
    """

    t_end: int
    accumulation: int
    period_us: int
    image: np.ndarray
    counts: np.ndarray
    n_on: int = 0
    n_off: int = 0
    epoch: int = 0
    ground_truth: np.ndarray | None = None
    wall_time: float = 0.0


@dataclass
class Batch:
    """What :meth:`Outbox.take` returns: frames (oldest first) and results."""

    frames: list[Frame] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


class Outbox:
    """Bounded, thread-safe hand-over from the worker to the GUI (drop-oldest, counted)."""

    def __init__(self, max_frames: int = 3, max_results: int = 256,
                 on_ready: Callable[[], None] | None = None) -> None:
        if max_frames < 1 or max_results < 1:
            raise ValueError("an outbox holds at least one frame and one result")
        self._frames: deque[tuple[int, Frame]] = deque()
        self._results: deque[tuple[int, Result]] = deque()
        self.max_frames = int(max_frames)
        self.max_results = int(max_results)
        self.on_ready = on_ready
        self.dropped_frames = 0
        self.dropped_results = 0
        self._lock = threading.Lock()
        self._notified = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def put_frame(self, frame: Frame) -> None:
        with self._lock:
            if len(self._frames) >= self.max_frames:
                self._frames.popleft()
                self.dropped_frames += 1
            self._frames.append((frame.epoch, frame))
        self._notify()

    def put_results(self, results: list[Result], epoch: int) -> None:
        if not results:
            return
        with self._lock:
            for r in results:
                if len(self._results) >= self.max_results:
                    self._results.popleft()
                    self.dropped_results += 1
                self._results.append((epoch, r))
        self._notify()

    def _notify(self) -> None:
        with self._lock:
            if self._notified or self.on_ready is None:
                return
            self._notified = True
        self.on_ready()

    def take(self, min_epoch: int = 0) -> Batch:
        """Everything waiting (items older than ``min_epoch`` are discarded, not counted)."""
        with self._lock:
            frames = [f for e, f in self._frames if e >= min_epoch]
            results = [r for e, r in self._results if e >= min_epoch]
            self._frames.clear()
            self._results.clear()
            self._notified = False
        return Batch(frames, results)

    def count_dropped(self, n: int) -> None:
        """Count frames that the consumer took but did not show (it shows only the newest)."""
        with self._lock:
            self.dropped_frames += int(n)
