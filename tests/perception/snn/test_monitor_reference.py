"""SpikeMonitor's fast paths against a slow reference that checks and sums every value in Python.

The monitor takes a spiking layer's output as spikes without checking it again, reuses the sum its
spike count took for the rate of the layer it feeds, and sums in float32 chunks. The reference
here clones every tensor when its hook fires and decides everything from the values alone, so any
input that is not a spiking layer's untouched output (a concatenation, a padded map, a strided
slice, a map changed in place after the neuron fired, an inference tensor) must come out the same.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spikesight.perception.snn import ILIF, LIF, Neuron, SeqToANN, SpikeDriven, SpikeMonitor, reset_net
from spikesight.perception.snn.energy import mac_counter


class _Net(nn.Module):
    """Spiking layers whose outputs reach convs directly and in every indirect way."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        sd = kind == "spike-driven"

        def neuron() -> nn.Module:
            return LIF() if kind == "lif" else ILIF(4, spike_driven=sd)

        def conv(c_in: int, c_out: int, pad: int = 1) -> nn.Module:
            layer = nn.Conv2d(c_in, c_out, 3, padding=pad)
            return SpikeDriven(layer, 4) if sd else SeqToANN(layer)

        self.enc = SeqToANN(nn.Conv2d(2, 4, 3, padding=1))
        self.n1, self.n2, self.n3 = neuron(), neuron(), neuron()
        self.direct = conv(4, 4)
        self.concat = conv(8, 4)
        self.padded = conv(4, 4, pad=0)
        self.strided = conv(4, 4)
        self.changed = conv(4, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.n1(self.enc(x))
        s2 = self.n2(self.direct(s1))  # a spiking layer's output, as it is
        a = self.concat(torch.cat([s1, s2], 2))  # spikes, but a new tensor
        b = self.padded(F.pad(s2, (1, 1, 1, 1), value=0.5))  # mostly spikes, a real border
        s3 = self.n3(a + b)
        c = self.strided(s3[..., ::2, :])  # part of a spiking layer's output
        s3.mul_(2)  # changed after the neuron fired: no longer its spikes
        d = self.changed(s3)
        return self.head((c.mean((-1, -2)) + d.mean((-1, -2))).flatten(0, 1))


def _reference(model: nn.Module, x: torch.Tensor) -> tuple[dict, dict]:
    """Per layer: spikes (steps, neurons, count, per-step float64 map) and ops (macs, sops, real
    macs), from clones of every tensor taken when its hook fired and value-by-value checks."""
    calls: list[tuple] = []
    inside = {id(s) for m in model.modules() if isinstance(m, SpikeDriven) for s in m.layer.modules()}
    handles = []
    for name, m in model.named_modules():
        if id(m) in inside or m is model:
            continue
        if isinstance(m, Neuron):
            handles.append(m.register_forward_hook(
                lambda mod, a, out, n=name: calls.append(("n", n, mod, out.detach().clone()))))
        elif mac_counter(m) is not None:
            handles.append(m.register_forward_hook(
                lambda mod, a, out, n=name: calls.append(("s", n, mod, a[0].detach().clone(), out.detach()))))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    spikes, ops, max_spike = {}, {}, 0
    for kind, name, mod, *tensors in calls:
        if kind == "n":
            out = tensors[0].double()
            v = mod.virtual_steps
            per_step = out.reshape(out.shape[0] // v, v, -1).sum(1)
            spikes[name] = (per_step.shape[0], per_step.shape[1], round(out.sum().item()), per_step)
            max_spike = max(max_spike, mod.max_spike)
            continue
        inp, out = tensors
        macs = mac_counter(mod)(mod, inp, out)
        values = inp.flatten().tolist()
        if isinstance(mod, SpikeDriven):
            spiking, virtual = True, mod.max_value
        else:
            spiking = max_spike >= 1 and bool(values) and all(
                not math.isnan(v) and 0 <= v <= max_spike and float(v).is_integer() for v in values)
            virtual = 1
        if spiking:
            ops[name] = (macs, math.fsum(values) / len(values) * virtual * macs, 0)
        else:
            ops[name] = (macs, 0.0, macs)
    return spikes, ops


def _check(rec, spikes: dict, ops: dict) -> None:
    assert set(rec.spikes) == set(spikes) and set(rec.ops) == set(ops)
    for name, (steps, neurons, count, per_step) in spikes.items():
        layer = rec.spikes[name]
        assert (layer.steps, layer.neurons, layer.spike_count) == (steps, neurons, count), name
        expected = per_step[:, torch.from_numpy(layer.indices)].clamp(0, 255).to(torch.uint8).numpy()
        assert np.array_equal(layer.raster, expected), name
    for name, (macs, sops, real_macs) in ops.items():
        got = rec.ops[name]
        assert (got.macs, got.real_macs) == (macs, real_macs), name
        assert got.sops == pytest.approx(sops, rel=1e-12, abs=0), name


def _layer(net: nn.Module, part: nn.Module) -> str:
    """The monitor's name of the synaptic layer in ``part`` (a SeqToANN's inner conv)."""
    target = part if isinstance(part, SpikeDriven) else part.module
    return next(name for name, m in net.named_modules() if m is target)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["lif", "integer", "spike-driven"]), seed=st.integers(0, 2**16),
       scale=st.floats(0.5, 6.0), steps=st.integers(1, 3))
def test_fast_paths_match_the_reference(kind: str, seed: int, scale: float, steps: int) -> None:
    torch.manual_seed(seed)
    net = _Net(kind).eval()
    x = torch.rand(steps, 2, 2, 6, 5) * scale
    with SpikeMonitor(net, max_neurons=7) as monitor:
        for _ in range(2):  # the first window checks each layer's output; the second trusts it
            reset_net(net)
            spikes, ops = _reference(net, x)  # the same forward call the monitor records
            _check(monitor.last, spikes, ops)
    rec = monitor.last
    assert not rec.ops["enc.module"].spiking_input
    assert rec.ops[_layer(net, net.direct)].spiking_input
    assert rec.ops[_layer(net, net.padded)].spiking_input is (kind == "spike-driven")


@pytest.mark.parametrize("kind", ["lif", "integer", "spike-driven"])
def test_inference_tensors_match_the_reference(kind: str) -> None:
    # inference tensors have no version counter: every input is checked in full
    torch.manual_seed(1)
    net = _Net(kind).eval()
    x = torch.rand(2, 2, 2, 6, 5) * 3
    with SpikeMonitor(net, max_neurons=5) as monitor:
        for _ in range(2):
            reset_net(net)
            with torch.inference_mode():
                spikes, ops = _reference(net, x)
            _check(monitor.last, spikes, ops)


class _Membrane(Neuron):
    """A 'neuron' that emits half its input: not spikes, whatever its class says."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5


def test_a_neuron_whose_output_is_not_spikes_is_checked_every_time() -> None:
    fc1, fc2 = nn.Linear(3, 3, bias=False), nn.Linear(3, 2)
    with torch.no_grad():
        fc1.weight.copy_(torch.eye(3) * 2)  # inputs of 3 to 4 make the LIF fire (H = X / 2 >= 1)
    net = nn.Sequential(fc1, LIF(), _Membrane(), fc2)
    x = 3 + torch.rand(2, 1, 3)
    with SpikeMonitor(net) as monitor:
        for _ in range(3):
            reset_net(net)
            spikes, ops = _reference(net, x)
            _check(monitor.last, spikes, ops)
            # 0.5 for every spike: real values, 2 steps x 2 outputs x 3 inputs = 12 MACs
            assert monitor.last.ops["3"].real_macs == monitor.last.ops["3"].macs == 12


def test_exact_sum_in_float32_chunks() -> None:
    # 1 M values of 255 and 1: the total (128 M) is far past float32's last exact integer (2**24),
    # so the sum goes in 16 chunks of at most 2**24 // 255 values
    from spikesight.perception.snn.monitor import _spike_sum

    x = torch.ones(1_000_000)
    x[::2] = 255
    assert _spike_sum(x, 255) == 500_000 * 256
    assert _spike_sum(x.double(), 255) == 500_000 * 256
    assert _spike_sum(x.view(1000, 1000)[:, ::2], 255) == 1000 * 500 * 255  # not contiguous
