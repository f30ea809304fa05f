"""Theoretical energy of a spiking network: synaptic operations times energy per operation.

The estimate the SNN papers report (Spike-driven Transformer, Yao et al., NeurIPS 2023,
supplementary "Energy Consumption Analysis Details": FLOPs of a conv (eq. S1) and of an MLP layer
(eq. S2), then the energy from T, the firing rates and those FLOPs; SpikeYOLO, Luo et al., ECCV
2024, uses the same estimate with integer activations), with the 45 nm figures of Horowitz,
"Computing's energy problem (and what we can do about it)", ISSCC 2014 (32-bit float: add 0.9 pJ,
multiply 3.7 pJ, so a multiply-accumulate costs 4.6 pJ)::

    FLOPs(conv)   = k^2 · h_out · w_out · c_in / groups · c_out       (MACs of one step, one sample)
    FLOPs(linear) = i · o
    SOPs(l)       = fr(l) · T · FLOPs(l)       fr: mean value of the input spikes of layer l
    E_SNN         = E_MAC · FLOPs(first layer) + E_AC · Σ_{l spiking input} SOPs(l)
    E_ANN         = E_MAC · Σ_l FLOPs(l)       (the same network as an ANN, run once: T = 1)

Here the MACs of each layer are counted from the actual input and output shapes of each call
(so they already include T and the batch) and ``SOPs = fr · MACs`` per call, which is the
``fr · T · FLOPs`` above. The "first layer" is every layer fed real values (the encoding layer of
the papers, or any layer whose input is not spikes): its dense MACs are charged at E_MAC once per
time step it actually runs (x T for event frames, which differ at each step). For integer
activations (I-LIF) fr is the mean integer, i.e. the binary spikes over the D virtual steps.
E_ANN is reported for T = 1 (total MACs / T), the comparison of both papers; multiply by T for
an ANN run at every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..results import EnergyEstimate
from .neurons import SpikeDriven

E_AC_J = 0.9e-12
"""Energy of one accumulate (32-bit float add, 45 nm), joules."""
E_MAC_J = 4.6e-12
"""Energy of one multiply-accumulate (32-bit float, 45 nm), joules."""

MacCounter = Callable[[nn.Module, torch.Tensor, torch.Tensor], int]


def _conv_macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return y.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)


def _conv_transpose_macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return x.numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)


def _linear_macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    return y.numel() * m.in_features


def _spike_driven_macs(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    # The wrapped layer's MACs on the integers: one real step's worth of the D virtual steps.
    counter = mac_counter(m.layer)
    assert counter is not None  # SpikeDriven only wraps conv and linear layers
    return counter(m.layer, x[: x.shape[0] // m.max_value], y)


MAC_COUNTERS: dict[type[nn.Module], MacCounter] = {
    nn.Linear: _linear_macs,
    nn.Conv1d: _conv_macs,
    nn.Conv2d: _conv_macs,
    nn.Conv3d: _conv_macs,
    nn.ConvTranspose1d: _conv_transpose_macs,
    nn.ConvTranspose2d: _conv_transpose_macs,
    nn.ConvTranspose3d: _conv_transpose_macs,
    SpikeDriven: _spike_driven_macs,
}
"""How many multiply-accumulates a layer performs on one call, from its input and output."""


def register_mac_counter(cls: type[nn.Module], counter: MacCounter) -> None:
    """Count the MACs of layers of type ``cls`` (and subclasses) with ``counter(module, input, output)``."""
    MAC_COUNTERS[cls] = counter


def mac_counter(module: nn.Module) -> MacCounter | None:
    """The counter for ``module``'s type (looked up along its class hierarchy), or ``None``."""
    for cls in type(module).__mro__:
        if cls in MAC_COUNTERS:
            return MAC_COUNTERS[cls]
    return None


@dataclass(frozen=True)
class LayerOps:
    """The operations of one synaptic layer over one window (all calls, time steps and samples).

    ``macs``: dense multiply-accumulates; ``sops``: accumulates actually triggered by input spikes
    (``fr · MACs`` of the calls fed spikes); ``real_macs``: MACs of the calls fed real values.
    """

    name: str
    macs: int
    sops: float
    real_macs: int

    @property
    def spiking_input(self) -> bool:
        return self.real_macs == 0

    @property
    def input_rate(self) -> float:
        """Mean input value (firing rate ``fr``) of the calls fed spikes; 0 if there were none."""
        spiking_macs = self.macs - self.real_macs
        return self.sops / spiking_macs if spiking_macs else 0.0

    def energy_j(self, e_ac: float = E_AC_J, e_mac: float = E_MAC_J) -> float:
        return e_ac * self.sops + e_mac * self.real_macs


def estimate_energy(
    layers: Iterable[LayerOps], timesteps: int, e_ac: float = E_AC_J, e_mac: float = E_MAC_J
) -> EnergyEstimate:
    """Combine per-layer operations into the papers' energy estimate (see the module docstring)."""
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    layers = list(layers)
    mac_ops = sum(layer.real_macs for layer in layers)
    sops = sum(layer.sops for layer in layers)
    ann_macs = sum(layer.macs for layer in layers) / timesteps
    return EnergyEstimate(
        timesteps=timesteps,
        mac_ops=mac_ops,
        sops=sops,
        snn_energy_j=e_mac * mac_ops + e_ac * sops,
        ann_macs=ann_macs,
        ann_energy_j=e_mac * ann_macs,
    )
