"""What a streaming pipeline returns for one window: the task output, the spikes, the energy.

These are plain dataclasses of numpy arrays so the GUI, the CLI and tests can use them without
torch or Qt. See ``pipelines.Pipeline`` for who produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Boxes in sensor pixel coordinates: ``boxes`` [N, 4] as x0, y0, x1, y1 (float32),
    ``scores`` [N], ``labels`` [N] (int), and the class names the labels index."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = ()

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), class_names)

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass
class DepthMap:
    """Depth in metres [H, W] (float32, NaN where unknown) at sensor geometry."""

    depth: np.ndarray
    max_depth: float = 80.0


@dataclass
class GesturePrediction:
    """Class probabilities [K] and the class names; ``label`` is the most probable class."""

    probabilities: np.ndarray
    class_names: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]


@dataclass
class LayerSpikes:
    """One spiking layer over one window: which (sampled) neurons fired at which time step.

    ``raster`` is [T, n] bool for ``n`` neurons sampled from the layer (all when small),
    ``firing_rate`` the mean over all of its neurons and steps, ``neurons`` its total size.
    """

    name: str
    raster: np.ndarray
    firing_rate: float
    neurons: int


@dataclass
class Energy:
    """Energy of one window: the SNN (synaptic operations) against the same network as an ANN, in pJ."""

    snn_pj: float
    ann_pj: float
    sops: float = 0.0
    macs: float = 0.0


@dataclass
class Result:
    """One pipeline step: the output for ``[t_start, t_end)`` plus what the network did inside."""

    task: str
    t_start: int
    t_end: int
    output: Detections | DepthMap | GesturePrediction
    layers: list[LayerSpikes] = field(default_factory=list)
    energy: Energy | None = None
    latency_s: float = 0.0
