"""Small stand-ins for the app tests: a pipeline that returns known results, failing sources."""

from __future__ import annotations

import threading
import time

import numpy as np

from spikesight.io import make_events
from spikesight.io.memory import ArraySource
from spikesight.perception.results import (
    DepthMap,
    Detections,
    EnergyEstimate,
    GesturePrediction,
    LayerSpikes,
    Result,
)


def moving_dot(width: int = 64, height: int = 48, duration_us: int = 2_000_000, rate_hz: float = 20_000,
               seed: int = 0) -> np.ndarray:
    """Events of a 5x5 square that moves left to right over ``duration_us``, ON/OFF alternating."""
    rng = np.random.default_rng(seed)
    n = int(duration_us * rate_hz / 1e6)
    t = np.sort(rng.integers(0, duration_us, n)).astype(np.int64) + 1_000_000
    cx = (5 + (t - 1_000_000) * (width - 10) // duration_us).astype(np.int64)
    x = np.clip(cx + rng.integers(-2, 3, n), 0, width - 1)
    y = np.clip(height // 2 + rng.integers(-2, 3, n), 0, height - 1)
    return make_events(x, y, np.arange(n) % 2, t)


class FakeDetector:
    """A 'detection' pipeline: one box around the window's events, and a two-layer spike raster.

    The box is the bounding box of the window's events, so a test knows where it must be drawn.
    """

    task = "detection"

    def __init__(self, window_us: int = 50_000, delay_s: float = 0.0, fail_after: int | None = None) -> None:
        self.window_us = window_us
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.steps = 0
        self.resets = 0
        self.windows: list[tuple[int, int, int]] = []
        self.lock = threading.Lock()

    def step(self, events, t_start, t_end):
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.steps += 1
            self.windows.append((t_start, t_end, len(events)))
        if self.fail_after is not None and self.steps > self.fail_after:
            raise RuntimeError("injected pipeline failure")
        if len(events):
            box = np.array([[events["x"].min(), events["y"].min(), events["x"].max() + 1,
                             events["y"].max() + 1]], np.float32)
            det = Detections(box, np.array([0.9], np.float32), np.array([1]), ("car", "pedestrian"))
        else:
            det = Detections.empty(("car", "pedestrian"))
        raster = np.zeros((4, 8), bool)
        raster[np.arange(4), np.arange(4) * 2] = True
        layers = [LayerSpikes.from_raster("conv1", raster, neurons=64, spike_count=32),
                  LayerSpikes.from_raster("head", raster[:, :4], neurons=4, spike_count=4)]
        return Result(self.task, t_start, t_end, det, layers, EnergyEstimate.from_pj(snn_pj=1e6, ann_pj=4e6))

    def reset(self):
        with self.lock:
            self.resets += 1


class FakeGesture:
    task = "gesture"
    window_us = 100_000

    def step(self, events, t_start, t_end):
        p = np.array([0.1, 0.7, 0.2], np.float32)
        return Result(self.task, t_start, t_end, GesturePrediction(p, ("clap", "wave", "roll")))

    def reset(self):
        pass


class FakeDepth:
    """Depth rising from 0 m (left) to 40 m (right), NaN in the first row."""

    task = "depth"
    window_us = 100_000

    def __init__(self, width: int = 64, height: int = 48) -> None:
        self.depth = np.tile(np.linspace(0, 40, width, dtype=np.float32), (height, 1))
        self.depth[0] = np.nan

    def step(self, events, t_start, t_end):
        return Result(self.task, t_start, t_end, DepthMap(self.depth.copy(), max_depth=50.0))

    def reset(self):
        pass


class FailingSource(ArraySource):
    """Raises after ``fail_after`` chunks the first ``times`` times it is opened (shared counter)."""

    def __init__(self, events, width, height, opened: list, fail_after: int = 3, times: int = 1):
        super().__init__(events, width, height, chunk_size=256)
        opened.append(self)
        self._fail = len(opened) <= times
        self._fail_after = fail_after
        self._served = 0

    def _chunks_from(self, checkpoint):
        for chunk in super()._chunks_from(checkpoint):
            self._served += 1
            if self._fail and self._served > self._fail_after:
                raise OSError("injected source failure")
            yield chunk
