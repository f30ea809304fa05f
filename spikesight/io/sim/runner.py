"""The loop every scene family shares: advance the scene, render a frame, emulate its events.

A scene is anything with ``width``, ``height``, ``advance(dt_seconds)`` and ``render()`` (a
float image of linear intensity in [0, 1]). Frames come at a fixed period of whole
microseconds from ``t = 0``, so a shorter run of the same scene is an exact prefix of a longer
one: the events, and every file written from them, begin with the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..emulator import Emulator, EmulatorConfig


class Scene(Protocol):
    width: int
    height: int

    def advance(self, dt: float) -> None: ...

    def render(self) -> np.ndarray: ...


@dataclass
class Frame:
    """One rendered frame at ``t`` µs and the events of the interval that ends with it."""

    index: int
    t: int
    image: np.ndarray
    events: np.ndarray


def frame_period(fps: float) -> int:
    """The frame period in whole µs for a frame rate."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(1, round(1e6 / fps))


def run(scene: Scene, duration: float, fps: float, emulator: EmulatorConfig) -> Iterator[Frame]:
    """Frames at ``0, period, 2 period, ...`` up to ``duration`` seconds, with their events."""
    period = frame_period(fps)
    n = int(round(duration * 1e6)) // period + 1
    emu = Emulator(emulator)
    for k in range(n):
        if k:
            scene.advance(period / 1e6)
        image = scene.render()
        yield Frame(k, k * period, image, emu.feed(image, k * period))
