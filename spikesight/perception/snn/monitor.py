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

Cost: a synaptic layer fed a spiking layer's output of the same window (the tensor itself or a
contiguous view of it, not modified since) is not checked again: a :class:`Neuron` emits spikes
by construction (its first output is checked once; a layer whose output fails is checked on every
call from then on), and the sum its spike count took gives the input rate. Other inputs are checked
in full (range first, which rejects real values after one pass). Spike counts are summed in float32
chunks too small for a partial sum to round, so they equal the float64 sum.

Usage::

    with SpikeMonitor(model, window=8) as monitor:
        model(x)
    monitor.last.energy.snn_energy_j
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ..results import LayerSpikes
from .energy import E_AC_J, E_MAC_J, EnergyEstimate, LayerOps, MacCounter, estimate_energy, mac_counter
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


@dataclass(slots=True)
class _Spikes:
    """A spiking layer's output seen in this window: its tensor (weakly), where its values lie, the
    version they had then, and their sum."""

    base: weakref.ref
    version: int
    data_ptr: int
    numel: int
    dtype: torch.dtype
    total: float


@dataclass
class _Window:
    spikes: dict[str, _LayerAccumulator] = field(default_factory=dict)
    ops: dict[str, _OpsAccumulator] = field(default_factory=dict)
    max_spike: int = 0
    outputs: dict[tuple[int, int, int], _Spikes] = field(default_factory=dict)


#: float32 adds integers exactly while every partial sum stays below this.
_F32_EXACT = 2**24
_NUMPY_FLOATS = (torch.float32, torch.float64, torch.float16)


def _is_spike_tensor(x: torch.Tensor, max_spike: int) -> bool:
    """Whether every value of ``x`` is an integer in ``[0, max_spike]`` (NaN is not). The range
    comes first: it rejects real values in one pass."""
    if max_spike < 1 or not x.numel() or x.is_complex():
        return False
    if x.dtype == torch.bool:
        return True
    lo, hi = torch.aminmax(x)
    if not (lo.item() >= 0 and hi.item() <= max_spike):  # NaN fails too
        return False
    return not x.is_floating_point() or torch.equal(torch.trunc(x), x)


def _spike_sum(x: torch.Tensor, max_spike: int) -> float:
    """The exact sum of ``x``, integers in ``[0, max_spike]``: float32 sums of chunks small enough
    that no partial sum rounds (as fast as a plain float32 sum), added in float64."""
    if x.dtype != torch.float32 or max_spike < 1:
        return x.sum(dtype=torch.float64).item()
    flat = x.reshape(-1)
    chunk = _F32_EXACT // max_spike
    if len(flat) <= chunk:
        return flat.sum().item()
    return float(sum(part.sum().item() for part in flat.split(chunk)))


def _raster_rows(steps: torch.Tensor, idx: np.ndarray, idx_t: torch.Tensor, clip: bool) -> np.ndarray:
    """Spikes per real step of the sampled neurons, [real steps, len(idx)] uint8, from ``steps``
    [real steps, virtual steps, neurons]; ``clip``: values may lie outside [0, 255]. In numpy on a
    CPU, where each call costs less than a torch dispatch."""
    if steps.device.type == "cpu" and steps.dtype in _NUMPY_FLOATS:
        a = steps.numpy()
        rows = a[:, :, idx].sum(1) if a.shape[1] > 1 else a[:, 0, idx]
        return (np.clip(rows, 0, 255) if clip else rows).astype(np.uint8)
    sampled = steps.index_select(2, idx_t)
    rows = sampled.sum(1) if sampled.shape[1] > 1 else sampled[:, 0]
    return rows.clamp(0, 255).to(torch.uint8).cpu().numpy()


def _base(x: torch.Tensor) -> torch.Tensor:
    return x._base if x._base is not None else x


def _version(x: torch.Tensor) -> int | None:
    """``x``'s version counter (``None`` for inference tensors, which have none)."""
    return None if x.is_inference() else x._version


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
        # per spiking layer: True once its first output was checked (a Neuron's are spikes from
        # then on), False when an output was not spikes (every output is checked)
        self._trusted: dict[str, bool] = {}
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
            elif (counter := mac_counter(m)) is not None:
                self.synaptic_layers.append(name)
                self._handles.append(m.register_forward_hook(partial(self._on_synapses, name, counter)))
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
        max_spike = int(getattr(module, "max_spike", 1))
        spikes = self._spikes_by_construction(name, module, out, max_spike)
        total = _spike_sum(out, max_spike) if spikes else out.sum(dtype=torch.float64).item()
        # [real steps, virtual steps of each, neurons]; a real step's virtual steps are summed
        virtual = int(getattr(module, "virtual_steps", 1))
        if getattr(module, "step_mode", "m") == "m":
            shape = (out.shape[0] // virtual, virtual, math.prod(out.shape[1:]))
        else:
            shape = (1, out.shape[0], math.prod(out.shape[1:])) if virtual > 1 else (1, 1, out.numel())
        acc = window.spikes.setdefault(name, _LayerAccumulator())
        acc.steps += shape[0]
        acc.neurons = shape[2]
        acc.spike_count += total
        window.max_spike = max(window.max_spike, max_spike)
        if spikes and out.is_contiguous() and (version := _version(output)) is not None:
            base = _base(output)
            ptr, numel = output.data_ptr(), output.numel()
            window.outputs[(id(base), ptr, numel)] = _Spikes(weakref.ref(base), version, ptr, numel,
                                                             output.dtype, total)
        if self.rasters:
            idx, idx_t = self._sample(name, shape[2], out.device)
            acc.indices = idx
            clip = not spikes or max_spike * virtual > 255
            acc.rows.append(_raster_rows(out.reshape(shape), idx, idx_t, clip))

    def _spikes_by_construction(self, name: str, module: nn.Module, out: torch.Tensor,
                                max_spike: int) -> bool:
        """Whether ``out`` holds spikes: checked once for a :class:`Neuron` (and trusted after),
        on every call for other modules and for a layer that once failed the check."""
        trusted = self._trusted.get(name)
        if trusted:
            return True
        if not out.numel():
            return False
        ok = _is_spike_tensor(out, max_spike)
        if isinstance(module, Neuron) and trusted is None:
            self._trusted[name] = ok
        return ok

    def _known_spikes(self, window: _Window, x: torch.Tensor) -> float | None:
        """The sum of ``x`` when it is a spiking layer's output of this window (the tensor or a
        contiguous view of all of it, unchanged since); ``None`` otherwise."""
        base = _base(x)
        seen = window.outputs.get((id(base), x.data_ptr(), x.numel()))
        if (seen is None or seen.base() is not base or seen.dtype != x.dtype or not x.is_contiguous()
                or _version(x) != seen.version):
            return None
        return seen.total

    def _on_synapses(self, name: str, counter: MacCounter, module: nn.Module, args: Any, output: Any) -> None:
        window = self._current
        if (window is None or not args or not isinstance(args[0], torch.Tensor)
                or not isinstance(output, torch.Tensor)):
            return
        x = args[0]
        macs = int(counter(module, x, output))
        acc = window.ops.setdefault(name, _OpsAccumulator())
        acc.macs += macs
        n = x.numel()
        total = self._known_spikes(window, x) if n else None
        if isinstance(module, SpikeDriven):
            virtual, spiking = module.max_value, True
        else:
            virtual, spiking = 1, total is not None or _is_spike_tensor(x.detach(), window.max_spike)
        if spiking:
            if total is None:
                total = x.detach().sum(dtype=torch.float64).item()
            acc.sops += (total / n * virtual if n else 0.0) * macs
        else:
            acc.real_macs += macs
