"""Meta SNN blocks: the BN-before-conv fold that spike-driven inference relies on."""

import torch
import torch.nn.functional as F

from spikesight.perception.detection.blocks import PadBN, SpikeConv
from spikesight.perception.snn.neurons import expand_spikes


def set_bn(bn, seed):
    g = torch.Generator().manual_seed(seed)
    n = bn.num_features
    bn.running_mean.copy_(torch.randn(n, generator=g))
    bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    bn.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
    bn.bias.data.copy_(torch.randn(n, generator=g))


def as_written(unit: SpikeConv, s: torch.Tensor) -> torch.Tensor:
    """BN (running statistics), pad with BN(0), valid conv: the layer as the paper draws it."""
    bn = unit.pre_bn
    y = F.batch_norm(s.flatten(0, 1), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    zero = bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)
    p = unit.pad
    padded = zero.view(1, -1, 1, 1).expand(y.shape[0], -1, y.shape[2] + 2 * p, y.shape[3] + 2 * p).clone()
    padded[:, :, p : p + y.shape[2], p : p + y.shape[3]] = y
    return unit.layer(padded).unflatten(0, s.shape[:2])


def test_pre_bn_conv_fold_matches_the_layer_as_written_in_both_modes():
    torch.manual_seed(0)
    unit = SpikeConv(6, 5, 1, padding=1, pre_bn=True)
    set_bn(unit.pre_bn, 1)
    s = torch.randint(0, 5, (3, 2, 6, 7, 8)).float()
    unit.train()
    train_running = unit(s)  # training path uses batch statistics; only its shape is comparable
    assert train_running.shape == (3, 2, 5, 9, 10)
    set_bn(unit.pre_bn, 1)
    unit.eval()
    expected = as_written(unit, s)
    torch.testing.assert_close(unit(s), expected, rtol=1e-5, atol=1e-5)
    unit.max_value = 4
    torch.testing.assert_close(unit(expand_spikes(s, 4)), expected, rtol=1e-5, atol=1e-5)


def test_padbn_fills_the_border_with_bn_of_zero():
    bn = PadBN(3, 2)
    set_bn(bn, 2)
    bn.eval()
    y = bn(torch.zeros(1, 3, 4, 4))
    assert y.shape == (1, 3, 8, 8)
    torch.testing.assert_close(y, y[:, :, :1, :1].expand_as(y))  # BN(0) inside equals the padding
