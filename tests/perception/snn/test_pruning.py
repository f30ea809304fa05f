"""Pruning: the spiking-firing criterion, masks through training and save/load, prune-rewind-retrain."""

import io
import itertools
import math

import pytest
import torch
from torch import nn

from spikesight.perception.snn.base import SeqToANN, reset_net
from spikesight.perception.snn.neurons import LIF
from spikesight.perception.snn.pruning import (
    FiringStats,
    PrunableUnit,
    collect_firing_stats,
    iterative_pruning,
    load_pruned_state_dict,
    prune_units,
    rewind,
    sparsity,
    spiking_firing_scores,
)


def gaussian_at(x, mean, var):
    return math.exp(-((mean - x) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


def test_spiking_firing_scores_by_hand():
    w = torch.tensor([[-3.0, 1.0], [0.5, -2.0]])
    bn = nn.BatchNorm1d(2, eps=1.0)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([2.0, -0.5]))
        bn.running_var.copy_(torch.tensor([3.0, 0.0]))
    stats = FiringStats(torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.0]), torch.tensor([1.0, 4.0]))
    scores = spiking_firing_scores(w, stats, bn, v_threshold=1.0)
    scale = [2.0 / 2.0, 0.5 / 1.0]  # |γ| / sqrt(σ² + ε)
    density = [gaussian_at(1.0, 1.0, 1.0), gaussian_at(1.0, 0.0, 4.0)]
    expected = torch.tensor(
        [
            [0.0 * 3.0 * scale[0] * density[0], 0.5 * 1.0 * scale[0] * density[0]],
            [0.0 * 0.5 * scale[1] * density[1], 0.5 * 2.0 * scale[1] * density[1]],
        ]
    )
    torch.testing.assert_close(scores, expected)


def test_a_weight_whose_input_never_fires_is_pruned_first_whatever_its_size():
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-3.0, 1.0], [0.5, -2.0]]))
    bn = nn.BatchNorm1d(2)
    stats = [FiringStats(torch.tensor([0.0, 0.5]), torch.tensor([0.9, 0.9]), torch.tensor([1.0, 1.0]))]
    unit = PrunableUnit(layer, bn, LIF())
    prune_units([unit], 0.5, "spiking_firing", stats)
    assert unit.mask().tolist() == [[False, True], [False, True]]
    other = PrunableUnit(nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        other.layer.weight.copy_(layer.weight_orig)
    prune_units([other], 0.5, "magnitude")
    assert other.mask().tolist() == [[True, False], [False, True]]


def test_depthwise_conv_scores_use_each_output_channels_own_input():
    conv = nn.Conv2d(3, 3, 3, groups=3, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    bn = nn.BatchNorm2d(3)
    stats = FiringStats(torch.tensor([0.1, 0.2, 0.3]), torch.zeros(3), torch.ones(3))
    scores = spiking_firing_scores(conv.weight, stats, bn, 0.0, groups=3)
    per_channel = scores.flatten(1)
    for c, rate in enumerate([0.1, 0.2, 0.3]):
        assert torch.allclose(
            per_channel[c], torch.full((9,), rate / math.sqrt(1 + 1e-5) * gaussian_at(0, 0, 1))
        )


class TinySNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = SeqToANN(nn.Linear(6, 8), nn.BatchNorm1d(8))
        self.sn1 = LIF(v_threshold=0.5)
        self.fc2 = SeqToANN(nn.Linear(8, 3))

    def forward(self, x):
        return self.fc2(self.sn1(self.fc1(x))).mean(0)

    def units(self):
        return [
            PrunableUnit(self.fc1.module[0], self.fc1.module[1], self.sn1),
            PrunableUnit(self.fc2.module, magnitude_only=True),
        ]


def test_firing_stats_are_the_input_rate_and_membrane_moments():
    torch.manual_seed(0)
    net = TinySNN().eval()
    x = (torch.rand(5, 4, 6) < torch.linspace(0.1, 0.9, 6)).float()
    (stats, none) = collect_firing_stats(net.units(), lambda: net(x))
    assert none is None
    torch.testing.assert_close(stats.input_rate, x.mean((0, 1)).double())
    # the membrane before firing, by a loop: H = V + (X - V) / tau, hard reset to 0
    with torch.no_grad():
        current = net.fc1(x)
    v = torch.zeros(4, 8)
    hs = []
    for t in range(5):
        h = v + (current[t] - v) / 2.0
        hs.append(h)
        v = h * (h < 0.5)
    hs = torch.stack(hs).double().reshape(-1, 8)
    torch.testing.assert_close(stats.mean, hs.mean(0))
    torch.testing.assert_close(stats.var, hs.var(0, unbiased=False))
    assert not net.sn1.store_v_seq, "the neuron is restored after calibration"


def train_steps(net, steps=5, optimizer="sgd", seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = (
        torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        if optimizer == "sgd"
        else torch.optim.Adam(net.parameters(), lr=0.05)
    )
    net.train()
    for _ in range(steps):
        reset_net(net)
        x = (torch.rand(4, 8, 6, generator=g) < 0.5).float()
        target = torch.randint(0, 3, (8,), generator=g)
        loss = nn.functional.cross_entropy(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_pruned_weights_stay_zero_through_training(optimizer):
    torch.manual_seed(1)
    net = TinySNN()
    units = net.units()
    prune_units(units, 0.6)
    masks = [u.mask().clone() for u in units]
    train_steps(net, optimizer=optimizer)
    used = {}

    def record(i):
        def hook(module, args, output):
            used[i] = module.weight.detach().clone()  # the weight the forward pass multiplied with

        return hook

    hooks = [u.layer.register_forward_hook(record(i)) for i, u in enumerate(units)]
    reset_net(net)
    net(torch.ones(2, 1, 6))
    for h in hooks:
        h.remove()
    for i, (unit, mask) in enumerate(zip(units, masks, strict=True)):
        assert torch.equal(unit.mask(), mask)
        assert not torch.equal(unit.weight() * mask, used[i] * 0), "training changed the kept weights"
        effective = used[i]
        assert torch.count_nonzero(effective[~mask]) == 0
        assert torch.count_nonzero(effective[mask]) == int(mask.sum())
    assert sparsity(units) == pytest.approx(0.6, abs=0.01)


def test_masks_survive_a_state_dict_round_trip():
    torch.manual_seed(2)
    net = TinySNN()
    prune_units(net.units(), 0.5)
    train_steps(net, steps=2)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    fresh = TinySNN()
    load_pruned_state_dict(fresh, torch.load(buffer))
    for a, b in zip(net.units(), fresh.units(), strict=True):
        assert torch.equal(a.mask(), b.mask())
        assert torch.equal(a.weight(), b.weight())
        assert torch.equal(b.layer.weight, b.weight() * b.mask())
    x = (torch.rand(4, 2, 6) < 0.5).float()
    net.eval()
    fresh.eval()
    reset_net(net)
    reset_net(fresh)
    assert torch.equal(net(x), fresh(x))
    train_steps(fresh, steps=2)
    unit = fresh.units()[0]
    assert torch.count_nonzero(unit.layer.weight[~unit.mask()]) == 0


def test_rewind_restores_weights_and_keeps_masks():
    torch.manual_seed(3)
    net = TinySNN()
    snapshot = {k: v.clone() for k, v in net.state_dict().items()}
    train_steps(net, steps=3)
    units = net.units()
    prune_units(units, 0.5)
    masks = [u.mask().clone() for u in units]
    rewind(net, snapshot)
    for unit, mask, key in zip(units, masks, ["fc1.module.0.weight", "fc2.module.weight"], strict=True):
        assert torch.equal(unit.mask(), mask)
        torch.testing.assert_close(unit.layer.weight, snapshot[key] * mask)
    torch.testing.assert_close(net.fc1.module[1].running_mean, snapshot["fc1.module.1.running_mean"])


@pytest.mark.parametrize("criterion", ["magnitude", "spiking_firing"])
def test_iterative_pruning_prunes_rewinds_and_retrains(criterion):
    torch.manual_seed(4)
    net = TinySNN()
    units = net.units()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    starts = []

    def train(model, round_index):
        starts.append((round_index, model.fc1.module[0].weight.detach().clone(), units[0].mask().clone()))
        train_steps(model, steps=3, seed=round_index)

    def calibrate(model):
        model.eval()
        reset_net(model)
        model((torch.rand(4, 16, 6, generator=torch.Generator().manual_seed(9)) < 0.5).float())

    history = iterative_pruning(
        net, units, train, rounds=3, amount=0.2, criterion=criterion, calibrate=calibrate
    )
    assert [s[0] for s in starts] == [0, 1, 2, 3]
    alive, expected = [48, 24], []
    for _ in range(3):
        alive = [n - round(0.2 * n) for n in alive]  # 20 % of the remaining weights of each unit
        expected.append(1 - sum(alive) / 72)
    assert history == pytest.approx(expected)
    for _, weight, mask in starts[1:]:
        # every round restarts from the rewind weights under the current mask
        torch.testing.assert_close(weight, init["fc1.module.0.weight"] * mask)
    masks = [s[2] for s in starts]
    for earlier, later in itertools.pairwise(masks):
        assert torch.all(earlier | ~later), "a pruned weight never comes back"


def test_global_scope_ranks_units_together():
    a, b = nn.Linear(4, 1, bias=False), nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        a.weight.copy_(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
        b.weight.copy_(torch.tensor([[10.0, 20.0, 30.0, 40.0]]))
    units = [PrunableUnit(a), PrunableUnit(b)]
    prune_units(units, 0.5, scope="global")
    assert not units[0].mask().any()
    assert units[1].mask().all()


def test_spiking_firing_needs_calibration():
    net = TinySNN()
    with pytest.raises(ValueError):
        iterative_pruning(
            net, net.units(), lambda m, k: None, rounds=1, amount=0.1, criterion="spiking_firing"
        )
    with pytest.raises(ValueError):
        prune_units(net.units(), 0.1, criterion="spiking_firing")
