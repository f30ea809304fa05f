"""The streaming depth pipeline: windows of events in, metric depth maps out, membrane state kept.

:class:`DepthPipeline` rebuilds the network, its input (:class:`~.inputs.DepthInput`: representation,
T, window, model size) and the depth encoding (``max_depth``, ``alpha``) from the weights' manifest
alone, so a caller only hands it events. Each :meth:`DepthPipeline.step` returns a
:class:`~spikesight.perception.results.Result` whose output is a
:class:`~spikesight.perception.results.DepthMap` in metres at the sensor's geometry, with the spikes
of every spiking layer and the energy estimate of that step.

State: with ``streaming=True`` (default) the neurons' membranes carry over from one window to the
next (one long sequence, as a streaming SNN runs); ``streaming=False`` resets them before every
window (the per-window setting of training). :meth:`reset` clears them (a seek, a new file).
Until the pipeline has seen an event since the last reset it has no estimate: the map is all NaN.
The network itself predicts every pixel; the map is otherwise dense.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..results import DepthMap, Result
from ..snn import SpikeMonitor, reset_net
from ..weights import DEFAULT_WEIGHTS as SHIPPED
from ..weights import WeightsError, load_weights
from .config import DepthConfig
from .convert import log_to_depth
from .inputs import DepthInput
from .model import build_depth_model

DEFAULT_WEIGHTS = SHIPPED["depth"]


class DepthPipeline:
    """Depth from events with trained weights (a shipped name or a ``.pt`` path with its manifest).

    ``sensor``: ``(width, height)`` of the camera when it differs from the one the weights were
    trained on (the network is convolutional; maps come out at this geometry). ``monitor``: record
    spikes and energy (a little slower). ``device``: where the network runs.
    """

    task = "depth"

    def __init__(
        self,
        weights: str | os.PathLike = DEFAULT_WEIGHTS,
        *,
        sensor: tuple[int, int] | None = None,
        streaming: bool = True,
        monitor: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        state, manifest = load_weights(weights, task="depth")
        try:
            config = DepthConfig.from_dict(manifest["config"])
            representation = DepthInput.from_dict(manifest["input"])
        except (KeyError, TypeError, ValueError) as err:
            raise WeightsError(f"{weights}: the manifest does not describe a depth model ({err})") from err
        model = build_depth_model(config)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise WeightsError(f"{weights}: the state dict does not fit its manifest's config ({err})") \
                from err
        self._setup(model, representation, sensor=sensor, streaming=streaming, monitor=monitor, device=device,
                    manifest=manifest)

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        representation: DepthInput,
        *,
        sensor: tuple[int, int] | None = None,
        streaming: bool = True,
        monitor: bool = True,
        device: str | torch.device = "cpu",
    ) -> DepthPipeline:
        """A pipeline around a model in memory (a benchmark, a run being trained); its ``config``
        attribute gives ``max_depth`` and ``alpha``."""
        self = cls.__new__(cls)
        self._setup(model, representation, sensor=sensor, streaming=streaming, monitor=monitor, device=device,
                    manifest={})
        return self

    def _setup(self, model: nn.Module, representation: DepthInput, *, sensor: tuple[int, int] | None,
               streaming: bool, monitor: bool, device: str | torch.device, manifest: dict[str, Any]) -> None:
        config: DepthConfig = model.config
        if (config.steps, config.in_channels) != (representation.steps, representation.channels):
            raise WeightsError(
                f"the model takes T={config.steps}, C={config.in_channels} but the input gives "
                f"T={representation.steps}, C={representation.channels}")
        self.config = config
        self.manifest = manifest
        self.input = representation if sensor is None else representation.with_sensor(*sensor)
        self.window_us = self.input.window_us
        self.streaming = streaming
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.monitor = SpikeMonitor(self.model, window=1).attach() if monitor else None
        self._seen_events = False

    @property
    def sensor(self) -> tuple[int, int]:
        return self.input.width, self.input.height

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result:
        """The depth map after the events of ``[t_start, t_end)`` (µs)."""
        t0 = time.perf_counter()
        x = self.input(events, t_start, t_end).unsqueeze(1).to(self.device)
        if not self.streaming:
            reset_net(self.model)
            self._seen_events = False
        with torch.no_grad():
            y = self.model(x)
        cfg = self.config
        depth = log_to_depth(self.input.to_sensor(y)[0, 0].float(), cfg.max_depth, cfg.alpha).cpu().numpy()
        self._seen_events = self._seen_events or bool(x.abs().sum() > 0)
        if not self._seen_events:
            depth[:] = np.nan
        layers, energy = [], None
        record = self.monitor.last if self.monitor is not None else None
        if record is not None:
            layers, energy = list(record.spikes.values()), record.energy
        return Result("depth", int(t_start), int(t_end), DepthMap(depth.astype(np.float32, copy=False),
                                                                  float(cfg.max_depth),
                                                                  float(cfg.min_depth)),
                      layers, energy, time.perf_counter() - t0)

    def set_sensor(self, width: int, height: int) -> None:
        """Take events of a ``width`` x ``height`` camera; maps come out at that geometry."""
        self.input = self.input.with_sensor(width, height)
        self.reset()

    def reset(self) -> None:
        """Clear the membrane state (and the monitor's records): the next window starts afresh."""
        reset_net(self.model)
        self._seen_events = False
        if self.monitor is not None:
            self.monitor.clear()

    def close(self) -> None:
        """Remove the spike monitor's hooks."""
        if self.monitor is not None:
            self.monitor.detach()
