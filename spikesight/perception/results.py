"""What a streaming pipeline returns for one window: the task output, the spikes, the energy.

These are plain dataclasses of numpy arrays so the GUI, the CLI and tests can use them without
torch or Qt. See ``pipelines.Pipeline`` for who produces them.
"""

from __future__ import annotations

import math
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
    """Depth in metres [H, W] (float32, NaN where unknown) at sensor geometry, and the range
    ``[min_depth, max_depth]`` the model can express (the MVSEC log-depth encoding's)."""

    depth: np.ndarray
    max_depth: float = 80.0
    min_depth: float = 2.0

    @property
    def valid(self) -> np.ndarray:
        """Where there is an estimate."""
        return np.isfinite(self.depth)


@dataclass
class GesturePrediction:
    """Class probabilities [K] and the class names; ``label`` is the most probable class."""

    probabilities: np.ndarray
    class_names: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]


@dataclass(frozen=True)
class LayerSpikes:
    """The spikes of one spiking layer over one window.

    ``neurons`` counts the neurons of one time step, batch included (the flattened output);
    ``raster[t, j]`` is how many spikes neuron ``indices[j]`` emitted at real step ``t`` (0/1 for
    binary neurons, up to D for integer ones), for a deterministic sample of the layer's neurons.
    """

    name: str
    steps: int
    neurons: int
    spike_count: int
    raster: np.ndarray
    indices: np.ndarray

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per real time step."""
        return self.spike_count / (self.steps * self.neurons) if self.steps and self.neurons else 0.0

    @classmethod
    def from_raster(cls, name: str, raster: np.ndarray, neurons: int | None = None,
                    spike_count: int | None = None) -> LayerSpikes:
        """A record from a [T, n] raster of the first ``n`` neurons (all of them by default)."""
        raster = np.asarray(raster)
        n = raster.shape[1] if neurons is None else neurons
        count = int(raster.sum()) if spike_count is None else spike_count
        return cls(name, raster.shape[0], n, count, raster, np.arange(raster.shape[1]))


@dataclass(frozen=True)
class EnergyEstimate:
    """SNN energy beside the energy of the same network as an ANN (T = 1), in joules."""

    timesteps: int
    mac_ops: int
    """MACs of the layers fed real values (charged at E_MAC)."""
    sops: float
    """Synaptic (accumulate) operations of the layers fed spikes (charged at E_AC)."""
    snn_energy_j: float
    ann_macs: float
    """MACs of the same network run once as an ANN (all layers' MACs / T)."""
    ann_energy_j: float

    @property
    def ratio(self) -> float:
        """ANN energy / SNN energy (how many times less the SNN spends); ``inf`` or ``nan`` if it spends 0."""
        if not self.snn_energy_j:
            return math.inf if self.ann_energy_j else math.nan
        return self.ann_energy_j / self.snn_energy_j

    @classmethod
    def from_pj(cls, snn_pj: float, ann_pj: float, timesteps: int = 1, sops: float = 0.0,
                macs: float = 0.0) -> EnergyEstimate:
        """An estimate from energies in pJ (SOPs at E_AC; ``macs`` those of the ANN run)."""
        return cls(timesteps, 0, sops, snn_pj / 1e12, macs, ann_pj / 1e12)

    @property
    def snn_pj(self) -> float:
        return self.snn_energy_j * 1e12

    @property
    def ann_pj(self) -> float:
        return self.ann_energy_j * 1e12


@dataclass
class Result:
    """One pipeline step: the output for ``[t_start, t_end)`` plus what the network did inside."""

    task: str
    t_start: int
    t_end: int
    output: Detections | DepthMap | GesturePrediction
    layers: list[LayerSpikes] = field(default_factory=list)
    energy: EnergyEstimate | None = None
    latency_s: float = 0.0
