"""Streaming pipelines: events in, results out, membrane state kept between windows.

A pipeline owns everything its model needs (the representation and its window, T, the
input size, the reset/warm-up policy and the decoding of outputs), read from the weights'
manifest, so a caller only hands it events. The GUI and the CLI call the same interface.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .results import Result


@runtime_checkable
class Pipeline(Protocol):
    """``step(events, t_start, t_end) -> Result``; ``reset()`` clears the membrane state.

    ``task`` names the output ("detection", "depth", "gesture"); ``window_us`` is the time
    window the model expects per step, so a player slices the stream to it.
    """

    task: str
    window_us: int

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result: ...

    def reset(self) -> None: ...
