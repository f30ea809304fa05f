"""SpikeMonitor on small networks whose spikes, MACs and SOPs are counted by hand."""

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.perception.snn import (
    ILIF,
    LIF,
    MemoryModule,
    SeqToANN,
    SpikeDriven,
    SpikeMonitor,
    reset_net,
    set_step_mode,
)

# Input [T=2, B=1, 4]: a one-hot at feature 0, then at feature 1.
X = torch.tensor([[[1.0, 0.0, 0.0, 0.0]], [[0.0, 1.0, 0.0, 0.0]]])


def _lif_net() -> nn.Sequential:
    """fc1 (4 -> 3) -> LIF -> fc2 (3 -> 2) -> LIF, with H = V / 2 + X (decay_input=False, tau=2).

    Layer 1: a = 2 x0 fires at t0; b = 2 x1 fires at t1; c = 2 x0 + 2 x1 fires at t0 and t1:
    spikes [[1, 0, 1], [0, 1, 1]], 4 of 6. Layer 2: d = a + b + c gets 2 and 2, fires twice;
    e = a / 2 gets 0.5, then 0.25 + 0: never fires. Spikes [[1, 0], [1, 0]], 2 of 4.
    """
    fc1 = nn.Linear(4, 3, bias=False)
    fc2 = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor([[2.0, 0, 0, 0], [0, 2, 0, 0], [2, 2, 0, 0]]))
        fc2.weight.copy_(torch.tensor([[1.0, 1, 1], [0.5, 0, 0]]))
    return nn.Sequential(fc1, LIF(decay_input=False), fc2, LIF(decay_input=False))


def test_two_layer_lif_network_by_hand() -> None:
    net = _lif_net()
    with SpikeMonitor(net, window=4) as monitor:
        net(X)
    rec = monitor.last
    assert monitor.neuron_layers == ["1", "3"] and monitor.synaptic_layers == ["0", "2"]
    l1, l2 = rec.spikes["1"], rec.spikes["3"]
    assert (l1.steps, l1.neurons, l1.spike_count) == (2, 3, 4)
    assert l1.raster.tolist() == [[1, 0, 1], [0, 1, 1]] and l1.indices.tolist() == [0, 1, 2]
    assert l1.raster.dtype == np.uint8
    assert l2.raster.tolist() == [[1, 0], [1, 0]]
    assert rec.firing_rates == pytest.approx({"1": 4 / 6, "3": 2 / 4})
    # fc1 is fed real values: 2 steps x 3 outputs x 4 inputs = 24 MACs.
    fc1, fc2 = rec.ops["0"], rec.ops["2"]
    assert (fc1.macs, fc1.real_macs, fc1.sops, fc1.spiking_input) == (24, 24, 0.0, False)
    # fc2 is fed the 4 spikes of layer 1; each spike reaches 2 outputs: 8 accumulates of 12 MACs.
    assert (fc2.macs, fc2.real_macs, fc2.spiking_input) == (12, 0, True)
    assert fc2.sops == pytest.approx(8.0)
    e = rec.energy
    assert e.timesteps == 2 and e.mac_ops == 24 and e.sops == pytest.approx(8.0)
    assert e.snn_energy_j == pytest.approx(24 * 4.6e-12 + 8 * 0.9e-12)
    assert e.ann_macs == 18 and e.ann_energy_j == pytest.approx(18 * 4.6e-12)


def _ilif_net(spike_driven: bool) -> nn.Sequential:
    """fc1 -> I-LIF -> fc2 -> I-LIF (D = 4, decay 0.25).

    Layer 1: a = 3 x0 -> u = 3, 0 -> s = 3, 0; b = 2 x1 -> 0, 2; c = x0 + x1 -> 1, (1 - 1)/4 + 1 = 1.
    Integer spikes [[3, 0, 1], [0, 2, 1]], sum 7; fc2 (3 -> 2) turns each unit into 2 accumulates: 14 SOPs.
    """
    fc1 = nn.Linear(4, 3, bias=False)
    fc2 = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor([[3.0, 0, 0, 0], [0, 2, 0, 0], [1, 1, 0, 0]]))
        fc2.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 0, 1]]))
    second = SpikeDriven(fc2, 4) if spike_driven else fc2
    return nn.Sequential(fc1, ILIF(4, spike_driven=spike_driven), second, ILIF(4, spike_driven=spike_driven))


@pytest.mark.parametrize("spike_driven", [False, True])
def test_integer_spikes_count_by_value(spike_driven: bool) -> None:
    net = _ilif_net(spike_driven)
    with SpikeMonitor(net) as monitor:
        net(X)
    rec = monitor.last
    l1, l2 = rec.spikes["1"], rec.spikes["3"]
    assert (l1.steps, l1.neurons, l1.spike_count) == (2, 3, 7)
    assert l1.raster.tolist() == [[3, 0, 1], [0, 2, 1]]
    # fc2 outputs: [3, 1] then [0, 1]: I-LIF 2 gets u = 3, 1 then (3 - 3)/4 + 0 = 0, (1 - 1)/4 + 1 = 1.
    assert l2.raster.tolist() == [[3, 1], [0, 1]]
    assert rec.ops["2"].macs == 12 and rec.ops["2"].sops == pytest.approx(14.0)
    assert rec.ops["2"].input_rate == pytest.approx(7 / 6)
    assert rec.ops["0"].real_macs == 24
    assert rec.energy.timesteps == 2


def test_ring_buffer_keeps_the_last_windows() -> None:
    net = _lif_net()
    monitor = SpikeMonitor(net, window=3).attach()
    for _ in range(5):
        reset_net(net)
        net(X)
    assert [r.index for r in monitor.records] == [2, 3, 4]
    assert all(r.spikes["1"].spike_count == 4 for r in monitor.records)
    monitor.detach()
    net(X)
    assert len(monitor.records) == 3 and monitor.last.index == 4
    monitor.clear()
    assert monitor.records == [] and monitor.last is None


def test_streaming_state_shows_in_the_next_window() -> None:
    net = _lif_net()
    with SpikeMonitor(net) as monitor:
        net(X)
        net(X)  # no reset: layer 1 starts from V = [0, 0, 0] (all fired or reset); same spikes
        net(X[:1] * 0)
    counts = [r.spikes["1"].spike_count for r in monitor.records]
    assert counts == [4, 4, 0]
    assert monitor.records[2].ops["2"].sops == 0.0


def test_sampled_raster_is_deterministic_and_faithful() -> None:
    torch.manual_seed(0)
    lif = LIF(v_reset=None)
    net = nn.Sequential(SeqToANN(nn.Conv2d(1, 4, 3, padding=1)), lif)
    x = torch.rand(3, 2, 1, 8, 8) * 4
    outputs = []
    lif.register_forward_hook(lambda m, i, o: outputs.append(o))
    with SpikeMonitor(net, max_neurons=10) as monitor:
        net(x)
        net(x)
    r1, r2 = monitor.records
    assert r1.spikes["1"].neurons == 2 * 4 * 8 * 8
    idx = r1.spikes["1"].indices
    assert len(idx) == 10 and len(set(idx.tolist())) == 10 and idx.tolist() == sorted(idx.tolist())
    assert np.array_equal(idx, r2.spikes["1"].indices)
    for rec, out in zip((r1, r2), outputs, strict=True):
        expected = out.detach().flatten(1)[:, idx].numpy().astype(np.uint8)
        assert np.array_equal(rec.spikes["1"].raster, expected)
        assert rec.spikes["1"].spike_count == out.sum().item()
    # the conv is the encoding layer: 6 images x 4 x 8 x 8 outputs x 9 taps, charged as MACs
    assert r1.ops["0.module"].real_macs == 6 * 256 * 9


def test_single_step_windows() -> None:
    net = _lif_net()
    set_step_mode(net, "s")
    with SpikeMonitor(net) as monitor:
        net(X[0])
        net(X[1])
    first, second = monitor.records
    assert first.spikes["1"].raster.tolist() == [[1, 0, 1]]
    assert second.spikes["1"].raster.tolist() == [[0, 1, 1]]
    assert second.energy.timesteps == 1 and second.ops["2"].sops == pytest.approx(4.0)


def test_custom_neuron_predicate_and_no_rasters() -> None:
    class Threshold(MemoryModule):  # a third-party spiking layer: not a Neuron
        def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x > 0.5).float()

    net = nn.Sequential(nn.Linear(2, 2), Threshold())
    x = torch.tensor([[[1.0, 1.0]]])
    with SpikeMonitor(net) as monitor:
        net(x)
    assert monitor.last.spikes == {}
    with SpikeMonitor(net, is_neuron=lambda m: isinstance(m, Threshold), rasters=False) as monitor:
        out = net(x)
    layer = monitor.last.spikes["1"]
    assert layer.spike_count == out.sum().item() and layer.raster.shape == (0, 0)


def test_a_layer_fed_real_values_after_spikes_is_charged_macs() -> None:
    # fc2 takes the LIF output scaled by 0.5: not spikes, so MACs, not SOPs.
    net = _lif_net()
    scaled = nn.Sequential(net[0], net[1], _Scale(0.5), net[2], net[3])
    with SpikeMonitor(scaled) as monitor:
        scaled(X)
    assert monitor.last.ops["3"].real_macs == 12 and monitor.last.ops["3"].sops == 0.0


class _Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k


def test_a_failed_forward_does_not_wedge_the_monitor() -> None:
    net = _lif_net()
    with SpikeMonitor(net) as monitor:
        with pytest.raises(RuntimeError):
            net(torch.zeros(2, 1, 5))  # wrong feature size
        reset_net(net)
        net(X)
    assert len(monitor.records) == 1 and monitor.last.spikes["1"].spike_count == 4


def test_validation() -> None:
    with pytest.raises(ValueError):
        SpikeMonitor(nn.Linear(1, 1), window=0)
    with pytest.raises(ValueError):
        SpikeMonitor(nn.Linear(1, 1), max_neurons=0)
