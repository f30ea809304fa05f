"""Spike monitor: which neurons fired when, firing rates, synaptic operations and energy, per window.

:class:`SpikeMonitor` hooks every spiking layer of any model (any :class:`Neuron`, or whatever an
``is_neuron`` predicate accepts) and every synaptic layer with a MAC counter (conv, linear,
transposed conv, :class:`SpikeDriven`, and what :func:`~.energy.register_mac_counter` adds). Each
forward call of the model is one window; the monitor keeps the last ``window`` of them in a ring
buffer (bounded memory whatever the stream length). A window record holds, per spiking layer, the
spike count, the firing rate and a compact raster (spikes per step of at most ``max_neurons``
neurons, sampled deterministically so that rasters of successive windows line up), and per
synaptic layer its MACs and SOPs, with the energy estimate of :mod:`.energy`.

A synaptic layer's input counts as spikes (accumulates, ``E_AC``) when a spiking layer has already
fired in the window and every input value is an integer in ``[0, max_spike]``; otherwise (the
encoding layer fed real values, or a layer fed non-spike values) its MACs are charged at ``E_MAC``.
Integer spikes (I-LIF) count by value: ``s`` is ``s`` binary spikes over the D virtual steps.

Usage::

    with SpikeMonitor(model, window=8) as monitor:
        model(x)
    monitor.last.energy.snn_energy_j
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ..results import LayerSpikes
from .energy import E_AC_J, E_MAC_J, EnergyEstimate, LayerOps, estimate_energy, mac_counter
from .neurons import Neuron, SpikeDriven


def is_spiking_neuron(module: nn.Module) -> bool:
    """The default predicate: every neuron of this package."""
    return isinstance(module, Neuron)


@dataclass(frozen=True)
class WindowRecord:
    """Everything the monitor saw during one forward call of the model (all samples of the batch)."""

    index: int
    spikes: dict[str, LayerSpikes]
    ops: dict[str, LayerOps]
    energy: EnergyEstimate

    @property
    def firing_rates(self) -> dict[str, float]:
        return {name: layer.firing_rate for name, layer in self.spikes.items()}


@dataclass
class _LayerAccumulator:
    steps: int = 0
    neurons: int = 0
    spike_count: float = 0.0
    rows: list[np.ndarray] = field(default_factory=list)
    indices: np.ndarray | None = None


@dataclass
class _OpsAccumulator:
    macs: int = 0
    sops: float = 0.0
    real_macs: int = 0


@dataclass
class _Window:
    spikes: dict[str, _LayerAccumulator] = field(default_factory=dict)
    ops: dict[str, _OpsAccumulator] = field(default_factory=dict)
    max_spike: int = 0


def _is_spike_tensor(x: torch.Tensor, max_spike: int) -> bool:
    """Whether every value of ``x`` is an integer in ``[0, max_spike]``."""
    if max_spike < 1 or not x.numel() or x.is_complex():
        return False
    in_range = (x >= 0) & (x <= max_spike)
    if x.is_floating_point():
        in_range &= x == torch.round(x)
    return bool(in_range.all())


class SpikeMonitor:
    """Record spikes, operations and energy of ``model`` for its last ``window`` forward calls.

    Use as a context manager, or call :meth:`attach` / :meth:`detach`. ``rasters=False`` skips
    the per-neuron rasters (counts, rates and energy are still recorded). Records can be read
    from another thread (the GUI) while the model runs.
    """

    def __init__(
        self,
        model: nn.Module,
        window: int = 16,
        max_neurons: int = 1024,
        is_neuron: Callable[[nn.Module], bool] = is_spiking_neuron,
        rasters: bool = True,
        e_ac: float = E_AC_J,
        e_mac: float = E_MAC_J,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if max_neurons < 1:
            raise ValueError(f"max_neurons must be >= 1, got {max_neurons}")
        self.model = model
        self.max_neurons = max_neurons
        self.is_neuron = is_neuron
        self.rasters = rasters
        self.e_ac = e_ac
        self.e_mac = e_mac
        self._records: deque[WindowRecord] = deque(maxlen=window)
        self._lock = threading.Lock()
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._current: _Window | None = None
        self._depth = 0
        self._count = 0
        self._samples: dict[tuple[str, int], tuple[np.ndarray, dict[torch.device, torch.Tensor]]] = {}
        self.neuron_layers: list[str] = []
        self.synaptic_layers: list[str] = []

    # -- attaching -------------------------------------------------------------------------

    def attach(self) -> SpikeMonitor:
        """Install the hooks (idempotent)."""
        if self._handles:
            return self
        inside_wrappers = {
            id(sub) for m in self.model.modules() if isinstance(m, SpikeDriven) for sub in m.layer.modules()
        }
        self.neuron_layers, self.synaptic_layers = [], []
        for name, m in self.model.named_modules():
            if id(m) in inside_wrappers:
                continue
            if self.is_neuron(m):
                self.neuron_layers.append(name)
                self._handles.append(m.register_forward_hook(partial(self._on_spikes, name)))
            elif mac_counter(m) is not None:
                self.synaptic_layers.append(name)
                self._handles.append(m.register_forward_hook(partial(self._on_synapses, name)))
        self._handles.append(self.model.register_forward_pre_hook(self._begin))
        self._handles.append(self.model.register_forward_hook(self._end, always_call=True))
        return self

    def detach(self) -> None:
        """Remove the hooks; the records are kept."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._current = None
        self._depth = 0

    def __enter__(self) -> SpikeMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    # -- reading ---------------------------------------------------------------------------

    @property
    def records(self) -> list[WindowRecord]:
        """The recorded windows, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def last(self) -> WindowRecord | None:
        with self._lock:
            return self._records[-1] if self._records else None

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    # -- hooks -----------------------------------------------------------------------------

    def _begin(self, module: nn.Module, args: Any) -> None:
        self._depth += 1
        if self._depth == 1:
            self._current = _Window()

    def _end(self, module: nn.Module, args: Any, output: Any) -> None:
        # Also called when the forward raised (always_call): the partial window is dropped.
        self._depth -= 1
        if self._depth or self._current is None:
            return
        window, self._current = self._current, None
        if output is None:
            return
        spikes = {name: self._finish_layer(name, acc) for name, acc in window.spikes.items()}
        ops = {
            name: LayerOps(name=name, macs=acc.macs, sops=acc.sops, real_macs=acc.real_macs)
            for name, acc in window.ops.items()
        }
        timesteps = max((layer.steps for layer in spikes.values()), default=1) or 1
        energy = estimate_energy(ops.values(), timesteps, self.e_ac, self.e_mac)
        with self._lock:
            self._records.append(WindowRecord(self._count, spikes, ops, energy))
            self._count += 1

    def _finish_layer(self, name: str, acc: _LayerAccumulator) -> LayerSpikes:
        k = 0 if acc.indices is None else len(acc.indices)
        raster = np.concatenate(acc.rows) if acc.rows else np.zeros((0, k), np.uint8)
        indices = acc.indices if acc.indices is not None else np.zeros(0, np.int64)
        return LayerSpikes(name, acc.steps, acc.neurons, round(acc.spike_count), raster, indices)

    def _sample(self, name: str, n: int, device: torch.device) -> tuple[np.ndarray, torch.Tensor]:
        """A fixed, sorted sample of at most ``max_neurons`` of ``n`` neuron indices."""
        key = (name, n)
        if key not in self._samples:
            if n <= self.max_neurons:
                idx = np.arange(n, dtype=np.int64)
            else:
                idx = np.sort(np.random.default_rng(0).choice(n, self.max_neurons, replace=False))
            self._samples[key] = (idx, {})
        idx, on_device = self._samples[key]
        if device not in on_device:
            on_device[device] = torch.from_numpy(idx).to(device)
        return idx, on_device[device]

    def _on_spikes(self, name: str, module: nn.Module, args: Any, output: Any) -> None:
        window = self._current
        if window is None or not isinstance(output, torch.Tensor):
            return
        out = output.detach()
        virtual = int(getattr(module, "virtual_steps", 1))
        if getattr(module, "step_mode", "m") == "m":
            per_step = out.unflatten(0, (-1, virtual)).sum(1) if virtual > 1 else out
        else:
            per_step = out.sum(0, keepdim=True) if virtual > 1 else out.unsqueeze(0)
        flat = per_step.flatten(1)  # [T, neurons]
        acc = window.spikes.setdefault(name, _LayerAccumulator())
        acc.steps += flat.shape[0]
        acc.neurons = flat.shape[1]
        acc.spike_count += flat.sum(dtype=torch.float64).item()
        window.max_spike = max(window.max_spike, int(getattr(module, "max_spike", 1)))
        if self.rasters:
            idx, idx_t = self._sample(name, flat.shape[1], flat.device)
            acc.indices = idx
            acc.rows.append(flat[:, idx_t].clamp(0, 255).to(torch.uint8).cpu().numpy())

    def _on_synapses(self, name: str, module: nn.Module, args: Any, output: Any) -> None:
        window = self._current
        if window is None or not args or not isinstance(args[0], torch.Tensor):
            return
        x = args[0].detach()
        counter = mac_counter(module)
        if counter is None or not isinstance(output, torch.Tensor):
            return
        macs = int(counter(module, x, output))
        acc = window.ops.setdefault(name, _OpsAccumulator())
        acc.macs += macs
        if isinstance(module, SpikeDriven):
            virtual, spiking = module.max_value, True
        else:
            virtual, spiking = 1, _is_spike_tensor(x, window.max_spike)
        if spiking:
            rate = x.sum(dtype=torch.float64).item() / x.numel() * virtual if x.numel() else 0.0
            acc.sops += rate * macs
        else:
            acc.real_macs += macs
