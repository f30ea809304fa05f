"""MAC counting from layer shapes and the papers' energy formula."""

import math

import pytest
import torch
from torch import nn

from spikesight.perception.snn import (
    E_AC_J,
    E_MAC_J,
    LayerOps,
    SpikeDriven,
    estimate_energy,
    mac_counter,
    register_mac_counter,
)
from spikesight.perception.snn.energy import MAC_COUNTERS


def _macs(layer: nn.Module, x: torch.Tensor) -> int:
    return mac_counter(layer)(layer, x, layer(x))


def test_linear_macs() -> None:
    assert _macs(nn.Linear(4, 3), torch.zeros(2, 5, 4)) == 2 * 5 * 3 * 4


def test_conv_macs_with_groups_stride_and_padding() -> None:
    # out 6 x 4 x 5 x 5 positions, each needs (2 / 2) * 3 * 3 multiply-accumulates
    assert _macs(nn.Conv2d(2, 4, 3, padding=1, groups=2), torch.zeros(6, 2, 5, 5)) == 600 * 9
    # stride 2, no padding: 7 -> 3; out 1 x 8 x 3 x 3 = 72 positions x 3 * 3 * 3
    assert _macs(nn.Conv2d(3, 8, 3, stride=2), torch.zeros(1, 3, 7, 7)) == 72 * 27
    assert _macs(nn.Conv1d(2, 3, 2), torch.zeros(1, 2, 5)) == 3 * 4 * 2 * 2
    assert _macs(nn.Conv3d(1, 2, 2), torch.zeros(1, 1, 3, 3, 3)) == 2 * 8 * 8


def test_transposed_conv_macs_scale_with_the_input() -> None:
    # each of the 3 * 4 * 4 input values is multiplied into 2 output channels x 2 x 2 taps
    assert _macs(nn.ConvTranspose2d(3, 2, 2, stride=2), torch.zeros(1, 3, 4, 4)) == 48 * 2 * 4


def test_spike_driven_macs_are_those_of_the_integer_layer() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    wrapped = SpikeDriven(conv, max_value=4)
    b = torch.zeros(2 * 4, 1, 2, 5, 5)
    assert mac_counter(wrapped)(wrapped, b, wrapped(b)) == _macs(conv, torch.zeros(2, 2, 5, 5))


def test_counter_lookup_follows_subclasses_and_registration() -> None:
    class MyConv(nn.Conv2d):
        pass

    class Bilinear(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    assert mac_counter(MyConv(1, 1, 1)) is MAC_COUNTERS[nn.Conv2d]
    assert mac_counter(Bilinear()) is None
    register_mac_counter(Bilinear, lambda m, x, y: 7)
    try:
        assert mac_counter(Bilinear())(Bilinear(), torch.zeros(1), torch.zeros(1)) == 7
    finally:
        del MAC_COUNTERS[Bilinear]


def test_energy_formula() -> None:
    layers = [
        LayerOps("encoder", macs=24, sops=0.0, real_macs=24),
        LayerOps("fc", macs=12, sops=8.0, real_macs=0),
    ]
    assert not layers[0].spiking_input and layers[1].spiking_input
    assert layers[1].input_rate == pytest.approx(8 / 12)
    e = estimate_energy(layers, timesteps=2)
    assert e.mac_ops == 24 and e.sops == 8.0
    assert e.snn_energy_j == pytest.approx(24 * 4.6e-12 + 8 * 0.9e-12)
    assert e.ann_macs == 18 and e.ann_energy_j == pytest.approx(18 * 4.6e-12)
    assert e.ratio == pytest.approx(e.ann_energy_j / e.snn_energy_j)
    assert layers[0].energy_j() == pytest.approx(24 * E_MAC_J)
    assert layers[1].energy_j() == pytest.approx(8 * E_AC_J)
    assert math.isnan(estimate_energy([], 1).ratio)
    assert estimate_energy([LayerOps("fc", 5, 0.0, 0)], 1).ratio == math.inf
    with pytest.raises(ValueError):
        estimate_energy(layers, timesteps=0)
