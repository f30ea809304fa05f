"""I-LIF (SpikeYOLO): integer spikes by hand, the detached reset, straight-through gradients,
and spike-driven inference giving the same result as integer inference."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spikesight.perception.snn import (
    ILIF,
    SeqToANN,
    SpikeDriven,
    collapse_spikes,
    expand_spikes,
    reset_net,
    spike_driven_apply,
)


def test_ilif_by_hand() -> None:
    # u0 = x0; u_t = (u_{t-1} - s_{t-1}) * 0.25 + x_t; s = round(clamp(u, 0, 4)).
    x = torch.tensor([2.75, 1.0, 5.0, -1.0, 0.625], dtype=torch.float64).view(5, 1)
    neuron = ILIF(max_value=4, decay=0.25, step_mode="s")
    spikes, us = [], []
    for xt in x:
        spikes.append(neuron(xt).item())
        us.append(neuron.v.item())
    assert us == [2.75, 0.9375, 4.984375, -0.75390625, 0.4365234375]
    assert spikes == [3.0, 1.0, 4.0, 0.0, 0.0]
    reset_net(neuron)
    neuron.step_mode = "m"
    assert neuron(x).flatten().tolist() == spikes


def test_rounding_is_half_to_even_like_torch_round() -> None:
    neuron = ILIF(max_value=8, step_mode="s")
    u = torch.tensor([0.5, 1.5, 2.5, 3.49, 7.6, 9.0, -0.4])
    assert neuron(u).tolist() == [0.0, 2.0, 2.0, 3.0, 8.0, 8.0, 0.0]


@pytest.mark.parametrize("u, grad", [(-0.1, 0.0), (0.0, 1.0), (2.3, 1.0), (4.0, 1.0), (4.1, 0.0)])
def test_straight_through_window_includes_both_bounds(u: float, grad: float) -> None:
    x = torch.tensor([u], requires_grad=True)
    ILIF(max_value=4, step_mode="s")(x).sum().backward()
    assert x.grad.item() == grad


def test_reset_path_is_detached() -> None:
    # u1 = (u0 - sg(s0)) * 0.25 + x1, so ds1/dx0 = 0.25 (it would be 0.25 * (1 - 1) = 0 if the
    # subtracted spike carried the straight-through gradient).
    x = torch.tensor([[2.75], [1.0]], requires_grad=True)
    out = ILIF()(x)
    out[1].sum().backward()
    assert x.grad[:, 0].tolist() == [0.25, 1.0]


def _reference_ilif(x: torch.Tensor, d: int, decay: float) -> torch.Tensor:
    out = []
    u = s = None
    for t, xt in enumerate(x):
        u = xt if t == 0 else (u - s) * decay + xt
        s = torch.round(torch.clamp(u, 0, d))
        out.append(s)
    return torch.stack(out)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    d=st.sampled_from([1, 2, 4, 8]),
    decay=st.sampled_from([0.25, 0.5, 1.0]),
    steps=st.integers(1, 6),
)
def test_ilif_matches_reference_and_streams(seed: int, d: int, decay: float, steps: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 2, 3, generator=gen, dtype=torch.float64) * d
    expected = _reference_ilif(x, d, decay)
    neuron = ILIF(max_value=d, decay=decay)
    torch.testing.assert_close(neuron(x), expected)
    reset_net(neuron)
    split = steps // 2
    torch.testing.assert_close(torch.cat([neuron(x[:split]), neuron(x[split:])]), expected)


def test_expand_and_collapse() -> None:
    s = torch.tensor([[0.0, 3.0], [4.0, 1.0]])  # [T=2, N=2]
    b = expand_spikes(s, 4)
    assert b.shape == (8, 2)
    assert b[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert b[:, 1].tolist() == [1, 1, 1, 0, 1, 0, 0, 0]
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(collapse_spikes(b, 4), s)
    with pytest.raises(ValueError):
        collapse_spikes(b[:7], 4)


def _integer_stack(d: int) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    gen = torch.Generator().manual_seed(7)
    conv1 = nn.Conv2d(2, 4, 3, padding=1).double()
    conv2 = nn.Conv2d(4, 3, 3, stride=2, bias=False).double()
    fc = nn.Linear(3 * 3 * 3, 5).double()
    with torch.no_grad():
        for layer in (conv1, conv2, fc):
            layer.weight.copy_(torch.randint(-3, 4, layer.weight.shape, generator=gen))
            if layer.bias is not None:
                layer.bias.copy_(torch.randint(-5, 6, layer.bias.shape, generator=gen))
    return conv1, conv2, fc, nn.Flatten()


@pytest.mark.parametrize("d", [1, 4])
def test_spike_driven_conv_stack_equals_integer_inference_exactly(d: int) -> None:
    conv1, conv2, fc, flat = _integer_stack(d)
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(-2, 7, (3, 2, 2, 7, 7), generator=gen).double()  # [T, B, C, H, W]

    integer = nn.Sequential(ILIF(d), SeqToANN(conv1), ILIF(d), SeqToANN(conv2), ILIF(d), SeqToANN(flat, fc))
    driven = nn.Sequential(
        ILIF(d, spike_driven=True),
        SpikeDriven(conv1, d),
        ILIF(d, spike_driven=True),
        SpikeDriven(conv2, d),
        ILIF(d, spike_driven=True),
        SeqToANN(flat),
        SpikeDriven(fc, d),
    )
    out_int = integer(x)
    out_drv = driven(x)
    assert out_drv.shape == out_int.shape == (3, 2, 5)
    assert torch.equal(out_int, out_drv)  # integer weights in float64: exact
    assert out_int.abs().max() > 0

    # The binary spikes of each spike-driven layer number exactly the sum of the integers.
    i_neurons = [m for m in integer if isinstance(m, ILIF)]
    d_neurons = [m for m in driven if isinstance(m, ILIF)]
    for i_layer, d_layer in zip(i_neurons, d_neurons, strict=True):
        assert d_layer.spike.sum() == i_layer.spike.sum()
    reset_net(integer)
    reset_net(driven)
    counts_int, counts_bin = [], []
    integer[0].register_forward_hook(lambda m, i, o: counts_int.append(o.sum().item()))
    driven[0].register_forward_hook(
        lambda m, i, o: counts_bin.append((o.sum().item(), set(o.unique().tolist())))
    )
    integer(x)
    driven(x)
    assert counts_bin[0][0] == counts_int[0] > 0
    assert counts_bin[0][1] <= {0.0, 1.0}


def test_spike_driven_conv_then_batchnorm_matches_float_inference() -> None:
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    s = torch.randint(0, 5, (2, 2, 3, 6, 6)).float()
    expected = bn(conv(s.flatten(0, 1))).unflatten(0, (2, 2))
    driven = nn.Sequential(SpikeDriven(conv, 4), SeqToANN(bn))
    torch.testing.assert_close(driven(expand_spikes(s, 4)), expected, atol=1e-4, rtol=1e-5)


def test_spike_driven_needs_a_conv_or_linear_layer() -> None:
    with pytest.raises(TypeError, match="Conv"):
        SpikeDriven(nn.BatchNorm2d(3))
    with pytest.raises(ValueError):
        spike_driven_apply(nn.Linear(2, 2), torch.zeros(5, 1, 2), 4)


def test_single_step_spike_driven() -> None:
    conv1, *_ = _integer_stack(4)
    x = torch.randint(0, 6, (2, 2, 5, 5)).double()
    neuron = ILIF(spike_driven=True, step_mode="s")
    b = neuron(x)
    assert b.shape == (4, 2, 2, 5, 5)
    out = SpikeDriven(conv1, 4, step_mode="s")(b)
    assert torch.equal(out, conv1(neuron.spike))
    assert neuron.max_spike == 1 and neuron.virtual_steps == 4
    assert ILIF(max_value=4).max_spike == 4 and ILIF(max_value=4).virtual_steps == 1


def test_validation() -> None:
    with pytest.raises(ValueError):
        ILIF(max_value=0)
    with pytest.raises(ValueError):
        ILIF(max_value=2.5)
    with pytest.raises(ValueError):
        ILIF(decay=1.5)
    assert "max_value=4" in repr(ILIF())


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.sampled_from([1, 4]), split=st.integers(0, 5))
def test_fused_gradients_match_step_by_step_autograd(seed: int, d: int, split: int) -> None:
    # Multi-step runs one fused autograd node; single-step composes IntegerQuantize per step.
    # Two windows without detaching, and the loss also reads the final membrane.
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 2, 3, generator=gen, dtype=torch.float64) * d
    w = torch.rand(5 * 6 + 6, generator=gen, dtype=torch.float64)
    results = []
    for mode in ("m", "s"):
        neuron = ILIF(max_value=d, step_mode=mode)
        xg = x.clone().requires_grad_()
        if mode == "s":
            out = torch.stack([neuron(xt) for xt in xg])
        else:
            out = torch.cat([neuron(xg[:split]), neuron(xg[split:])])
        out = torch.cat([out.flatten(), neuron.v.flatten()])
        (out * w).sum().backward()
        results.append((out.detach(), xg.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
