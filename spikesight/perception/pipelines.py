"""Streaming pipelines: events in, results out, membrane state kept between windows.

A pipeline owns everything its model needs (the representation and its window, T, the
input size, the reset/warm-up policy and the decoding of outputs), read from the weights'
manifest, so a caller only hands it events. The GUI and the CLI call the same interface.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .results import Result


@runtime_checkable
class Pipeline(Protocol):
    """``step(events, t_start, t_end) -> Result``; ``reset()`` clears the membrane state.

    ``task`` names the output ("detection", "depth", "gesture"); ``window_us`` is the time
    window the model expects per step, so a player slices the stream to it. A pipeline may also
    have ``set_sensor(width, height)``, which a player calls when it opens a stream, so weights
    trained on one camera take another's events, and ``skip(events, t_start, t_end)``: a window
    a real-time player drops (no result), whose events the pipeline should still see when its
    input spans several windows.
    """

    task: str
    window_us: int

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result: ...

    def reset(self) -> None: ...


PIPELINES: dict[str, str] = {
    "detection": "spikesight.perception.detection.pipeline:DetectionPipeline",
    "depth": "spikesight.perception.depth.pipeline:DepthPipeline",
    "gesture": "spikesight.perception.gesture.pipeline:GesturePipeline",
}
"""Result task name -> ``module:class`` of its pipeline (imported when opened: torch is heavy)."""

TASK_ALIASES = {"detect": "detection"}


def open_pipeline(task: str, weights: str | None = None, **options: Any) -> Pipeline:
    """The streaming pipeline of ``task`` (``detection``/``detect``, ``depth``, ``gesture``) with
    ``weights`` (a shipped name or a path; the task's default shipped weights if ``None``)."""
    name = TASK_ALIASES.get(task, task)
    if name not in PIPELINES:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(PIPELINES)}")
    module, _, cls = PIPELINES[name].partition(":")
    pipeline_cls = getattr(importlib.import_module(module), cls)
    return pipeline_cls(**options) if weights is None else pipeline_cls(weights=weights, **options)
