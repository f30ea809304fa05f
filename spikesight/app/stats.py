"""The status bar's numbers, worked out from the frames and results the GUI shows (no Qt).

Display FPS and speed-up are measured over the last ``window_s`` seconds of wall-clock time
(the speed-up only between frames of one epoch: a seek or a loop makes event time jump); event
rates come from each frame's last period; pipeline latency is an exponential average per task.
Every history is bounded, so a kiosk running for days keeps flat memory.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import pairwise

from ..perception.results import Result
from .frames import Frame


@dataclass
class RatePoint:
    """Event rate (events per second of event time) at one shown frame."""

    wall: float
    t_event: int
    on: float
    off: float


class PlaybackStats:
    """Rolling display FPS, speed-up, event rates, latencies and drop counts."""

    def __init__(self, window_s: float = 2.0, history_s: float = 10.0, max_points: int = 1200,
                 latency_alpha: float = 0.2) -> None:
        self.window_s = float(window_s)
        self.history_s = float(history_s)
        self.latency_alpha = float(latency_alpha)
        self._shown: deque[tuple[float, int, int]] = deque(maxlen=max_points)
        self.rates: deque[RatePoint] = deque(maxlen=max_points)
        self.latency_s: dict[str, float] = {}
        self.frames_shown = 0

    def reset(self) -> None:
        """Forget everything (a new stream)."""
        self._shown.clear()
        self.rates.clear()
        self.latency_s.clear()

    def frame_shown(self, frame: Frame, wall: float) -> None:
        self.frames_shown += 1
        self._shown.append((wall, frame.t_end, frame.epoch))
        if frame.period_us > 0:
            per_s = 1e6 / frame.period_us
            self.rates.append(RatePoint(wall, frame.t_end, frame.n_on * per_s, frame.n_off * per_s))
        while self.rates and wall - self.rates[0].wall > self.history_s:
            self.rates.popleft()

    def result(self, result: Result) -> None:
        old = self.latency_s.get(result.task)
        a = self.latency_alpha
        new = result.latency_s
        self.latency_s[result.task] = new if old is None else (1 - a) * old + a * new

    def _recent(self, now: float) -> list[tuple[float, int, int]]:
        return [s for s in self._shown if now - s[0] <= self.window_s]

    def display_fps(self, now: float) -> float:
        """Frames shown per wall-clock second over the window (NaN before two frames)."""
        rec = self._recent(now)
        if len(rec) < 2 or rec[-1][0] <= rec[0][0]:
            return math.nan
        return (len(rec) - 1) / (rec[-1][0] - rec[0][0])

    def speedup(self, now: float) -> float:
        """Event time per wall-clock time over the window: 1 is real time (NaN before two frames)."""
        rec = self._recent(now)
        pairs = [(b[1] - a[1], b[0] - a[0]) for a, b in pairwise(rec) if a[2] == b[2]]
        d_wall = sum(w for _, w in pairs)
        if not pairs or d_wall <= 0:
            return math.nan
        return sum(t for t, _ in pairs) / 1e6 / d_wall

    def event_rate(self) -> tuple[float, float]:
        """(ON, OFF) events per second at the latest frame (NaN when unknown)."""
        if not self.rates:
            return math.nan, math.nan
        p = self.rates[-1]
        return p.on, p.off
