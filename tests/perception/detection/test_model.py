"""SpikeYOLO model: size against the paper, shapes, integer vs spike-driven inference, streaming state."""

import pytest
import torch
from torch import nn

from spikesight.perception.detection import DetectorConfig, SpikeYOLO, count_parameters
from spikesight.perception.detection.blocks import SpikeConv
from spikesight.perception.snn.base import reset_net
from spikesight.perception.snn.neurons import ILIF


def randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine terms, so eval-mode folding is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.2)


def small_model(seed: int = 0, classes: int = 3) -> SpikeYOLO:
    torch.manual_seed(seed)
    model = SpikeYOLO(DetectorConfig(scale="tiny", num_classes=classes))
    randomise_bn(model, seed)
    return model.eval()


def test_n_size_matches_the_paper():
    # SpikeYOLO-n: 13.2 M parameters on COCO (80 classes, RGB input), s: 23.1 M.
    n = count_parameters(SpikeYOLO(DetectorConfig(scale="n", num_classes=80, in_channels=3)))
    s = count_parameters(SpikeYOLO(DetectorConfig(scale="s", num_classes=80, in_channels=3)))
    assert n == pytest.approx(13.2e6, rel=0.01)
    assert s == pytest.approx(23.1e6, rel=0.01)
    assert count_parameters(SpikeYOLO(DetectorConfig(scale="tiny"))) < n / 4


def test_n_channels_follow_the_scaled_table():
    m = SpikeYOLO(DetectorConfig(scale="n", num_classes=80))
    # 128, 256, 512, 1024 base channels at width 0.375; repeats 3, 6, 9, 3 at depth 0.33
    assert m.stem.conv.out_channels == 48
    assert [
        m.down2.conv.layer.out_channels,
        m.down3.conv.layer.out_channels,
        m.down4.conv.layer.out_channels,
    ] == [96, 192, 384]
    assert [len(m.stage1), len(m.stage2), len(m.stage3), len(m.stage4)] == [1, 2, 3, 1]
    assert m.stem.conv.kernel_size == (7, 7) and m.stem.conv.stride == (4, 4) and m.stem.lif is None


@pytest.mark.parametrize("batch,steps", [(1, 2), (2, 3)])
def test_output_shapes(batch, steps):
    model = small_model(classes=3)
    with torch.no_grad():
        out = model(torch.rand(steps, batch, 3, 64, 96))
    assert [tuple(o.shape) for o in out] == [(batch, 4 * 16 + 3, 64 // s, 96 // s) for s in (8, 16, 32)]


def test_bad_input_shapes():
    model = small_model()
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 1, 3, 60, 64))
    with pytest.raises(ValueError, match=r"\[T, B, 3, H, W\]"):
        model(torch.rand(1, 2, 64, 64))


def test_integer_and_spike_driven_give_the_same_head_outputs():
    model = small_model(seed=1)
    x = torch.rand(3, 2, 3, 64, 64)
    with torch.no_grad():
        integer = model(x)
        reset_net(model)
        model.spike_driven = True
        driven = model(x)
    lifs = [m for m in model.modules() if isinstance(m, ILIF)]
    assert lifs and all(m.spike_driven and m.virtual_steps == 4 for m in lifs)
    assert all(m.max_value == 4 for m in model.modules() if isinstance(m, SpikeConv))
    for a, b in zip(integer, driven, strict=True):
        assert a.abs().max() > 0.1  # the network is not silent
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


def test_spike_driven_inputs_are_binary_and_sum_to_the_integers():
    model = small_model(seed=2)
    x = torch.rand(2, 1, 3, 64, 64)
    seen = {}
    conv = model.stage1[0].conv1.conv

    def grab(module, args, output):
        seen.setdefault(module.max_value, args[0].clone())

    handle = conv.register_forward_hook(grab)
    with torch.no_grad():
        model(x)
        reset_net(model)
        model.spike_driven = True
        model(x)
    handle.remove()
    integers, binary = seen[1], seen[4]
    assert integers.max() > 1  # integer spikes above 1 do occur
    assert set(binary.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(binary.unflatten(0, (-1, 4)).sum(1), integers)


def test_spike_driven_needs_eval_and_train_switches_it_off():
    model = SpikeYOLO(DetectorConfig(scale="tiny"))
    with pytest.raises(RuntimeError, match="eval"):
        model.spike_driven = True
    model.eval()
    model.spike_driven = True
    model.train()
    assert not model.spike_driven
    assert not any(m.spike_driven for m in model.modules() if isinstance(m, ILIF))


def test_streaming_state_is_kept_across_calls_and_cleared_by_reset_net():
    model = small_model(seed=3)
    x = torch.rand(2, 1, 3, 64, 64)
    with torch.no_grad():
        first = model(x)
        second = model(x)  # membranes carry over from the first window
        reset_net(model)
        again = model(x)
        reset_net(model)
        both = model(torch.cat((x, x)))  # one call of 2T steps = two calls of T
    assert any((a - b).abs().max() > 1e-3 for a, b in zip(first, second, strict=True))
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b)
    # mean over 2T steps is the mean of the two windows' means
    for a, b, c in zip(first, second, both, strict=True):
        torch.testing.assert_close(c, (a + b) / 2, rtol=1e-4, atol=1e-4)


def test_training_mode_backpropagates():
    torch.manual_seed(0)
    model = SpikeYOLO(DetectorConfig(scale="tiny", num_classes=2)).train()
    out = model(torch.rand(2, 2, 3, 64, 64))
    sum(o.square().mean() for o in out).backward()
    assert model.stem.conv.weight.grad is not None and model.stem.conv.weight.grad.abs().sum() > 0
    sep = model.stage3[0].sep.pw3
    assert sep.pre_bn.weight.grad is not None


def test_monitor_sees_the_same_operations_in_both_modes():
    from spikesight.perception.snn.monitor import SpikeMonitor

    model = small_model(seed=4)
    x = torch.rand(2, 1, 3, 64, 64)
    energies = []
    for driven in (False, True):
        model.spike_driven = driven
        reset_net(model)
        with SpikeMonitor(model, rasters=False) as monitor, torch.no_grad():
            model(x)
        energies.append(monitor.last.energy)
    integer, driven = energies
    assert integer.sops > 0 and integer.timesteps == driven.timesteps == 2
    assert driven.sops == pytest.approx(integer.sops, rel=1e-6)
    assert driven.mac_ops == integer.mac_ops and driven.ann_macs == integer.ann_macs
