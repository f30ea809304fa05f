"""Temporal-wise (TA-SNN), multi-dimensional (MA-SNN) and advance spatial (ASA) attention."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.perception.snn.attention import (
    AdvanceSpatialAttention,
    AttentionLIF,
    ChannelAttention,
    SkipSteps,
    SpatialAttention,
    TemporalAttention,
)
from spikesight.perception.snn.base import reset_net


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ta_reference(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, use_max: bool) -> np.ndarray:
    """TA-SNN weights by explicit loops: d[t, b] for x of shape [T, B, ...]."""
    t_steps, batch = x.shape[:2]
    d = np.zeros((t_steps, batch))
    for b in range(batch):
        avg = np.array([x[t, b].mean() for t in range(t_steps)])
        mx = np.array([x[t, b].max() for t in range(t_steps)])
        z = w2 @ np.maximum(w1 @ avg, 0.0)
        if use_max:
            z = z + w2 @ np.maximum(w1 @ mx, 0.0)
        d[:, b] = sigmoid(z)
    return d


@pytest.mark.parametrize("use_max", [True, False])
def test_temporal_attention_weights_match_the_equations(use_max):
    torch.manual_seed(0)
    ta = TemporalAttention(T=8, reduction=2, use_max=use_max).double()
    x = torch.randn(8, 3, 4, 5, 5, dtype=torch.float64)
    w1 = ta.excitation[0].weight.detach().numpy()
    w2 = ta.excitation[2].weight.detach().numpy()
    expected = ta_reference(x.numpy(), w1, w2, use_max)
    np.testing.assert_allclose(ta.weights(x).detach().numpy(), expected, rtol=1e-12)
    y = ta(x)
    np.testing.assert_allclose(y.detach().numpy(), x.numpy() * expected[:, :, None, None, None], rtol=1e-12)


def test_temporal_attention_drops_steps_only_at_inference():
    torch.manual_seed(1)
    ta = TemporalAttention(T=6, reduction=2, d_th=0.5).double()
    x = torch.rand(6, 4, 3, 2, 2, dtype=torch.float64) * torch.linspace(0, 3, 6, dtype=torch.float64).view(
        6, 1, 1, 1, 1
    )
    d = ta.weights(x)
    ta.train()
    assert torch.allclose(ta(x), x * d.view(6, 4, 1, 1, 1))
    ta.eval()
    y, keep = ta(x, return_mask=True)
    assert torch.equal(keep, d >= 0.5)
    assert torch.equal(ta.keep_mask(x), keep)
    # Kept frames pass unscaled, dropped frames are zero (the paper's Heaviside(σ - d_th)).
    assert torch.equal(y, x * keep.view(6, 4, 1, 1, 1).double())


class CountingConv(nn.Conv2d):
    """A conv that counts its calls, the frames it sees and its multiply-accumulates."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.frames = 0
        self.macs = 0

    def forward(self, x):
        self.calls += 1
        self.frames += x.shape[0]
        out = super().forward(x)
        per_output = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        self.macs += out.numel() * per_output
        return out


def test_skipped_steps_cost_no_operations_and_match_the_masked_computation():
    torch.manual_seed(2)
    conv = CountingConv(3, 5, 3, padding=1)
    x = torch.randn(7, 2, 3, 6, 6)
    keep = torch.tensor([[1, 0], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 0]], dtype=torch.bool)
    y = SkipSteps(conv)(x, keep)
    frame_macs = 5 * 6 * 6 * 3 * 9
    assert conv.calls == 1
    assert conv.frames == int(keep.sum()) == 5
    assert conv.macs == 5 * frame_macs  # dense: 14 frames
    with torch.no_grad():
        dense = conv(x.flatten(0, 1)).unflatten(0, (7, 2))
    masked = dense * keep.view(7, 2, 1, 1, 1)
    assert torch.allclose(y, masked, atol=1e-6)
    assert torch.equal(y[~keep], torch.zeros_like(y[~keep]))


def test_all_steps_dropped_costs_nothing():
    conv = CountingConv(3, 5, 3, padding=1)
    y = SkipSteps(conv)(torch.randn(4, 2, 3, 6, 6), torch.zeros(4, 2, dtype=torch.bool))
    assert y.shape == (4, 2, 5, 6, 6)
    assert conv.frames == 0 and conv.macs == 0
    assert not y.any()


def test_frame_dropping_pipeline_runs_the_next_layer_on_kept_steps_only():
    torch.manual_seed(3)
    ta = TemporalAttention(T=10, reduction=2, d_th=0.5).eval()
    conv = CountingConv(2, 4, 3, padding=1, bias=False)
    # Event frames whose activity varies over time: the weights differ across steps.
    x = torch.rand(10, 3, 2, 8, 8) * (torch.arange(10) % 3).float().view(10, 1, 1, 1, 1)
    with torch.no_grad():
        xd, keep = ta(x, return_mask=True)
        y = SkipSteps(conv)(xd, keep)
        reference = nn.functional.conv2d(x.flatten(0, 1), conv.weight, padding=1).unflatten(0, (10, 3))
    assert 0 < int(keep.sum()) < 30, "the test input should keep some steps and drop others"
    assert conv.frames == int(keep.sum())
    assert torch.allclose(y, reference * keep.view(10, 3, 1, 1, 1), atol=1e-5)


def test_temporal_attention_rejects_a_wrong_window():
    with pytest.raises(ValueError):
        TemporalAttention(T=4)(torch.zeros(5, 1, 2, 3, 3))


def channel_attention_reference(u, ca):
    w0 = ca.mlp[0].weight.detach().numpy()
    w1 = ca.mlp[2].weight.detach().numpy()
    out = np.zeros(u.shape[:2])
    for b in range(u.shape[0]):
        avg = u[b].reshape(u.shape[1], -1).mean(1)
        mx = u[b].reshape(u.shape[1], -1).max(1)
        out[b] = sigmoid(w1 @ np.maximum(w0 @ avg, 0) + w1 @ np.maximum(w0 @ mx, 0))
    return out


def spatial_attention_reference(u, sa):
    """σ(conv_k([mean_c; max_c])) with the convolution written out."""
    w = sa.conv.weight.detach().numpy()[0]  # [2, k, k]
    k = w.shape[-1]
    pad = k // 2
    b, _, h, wd = u.shape
    pooled = np.stack([u.mean(1), u.max(1)], axis=1)
    padded = np.pad(pooled, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((b, h, wd))
    for n in range(b):
        for i in range(h):
            for j in range(wd):
                out[n, i, j] = (padded[n, :, i : i + k, j : j + k] * w).sum()
    return sigmoid(out)


def test_channel_and_spatial_attention_match_cbam():
    torch.manual_seed(4)
    u = torch.randn(2, 6, 5, 5, dtype=torch.float64)
    ca = ChannelAttention(6, reduction=2).double()
    sa = SpatialAttention(7).double()
    np.testing.assert_allclose(
        ca(u).detach().numpy()[:, :, 0, 0], channel_attention_reference(u.numpy(), ca), rtol=1e-12
    )
    np.testing.assert_allclose(
        sa(u).detach().numpy()[:, 0], spatial_attention_reference(u.numpy(), sa), rtol=1e-12
    )


def attention_lif_reference(x, neuron):
    """MA-SNN Eq. 14 by loops: TA on the current, then U = β H + X, CA, SA, fire, hard reset."""
    x = x.numpy().copy()
    t_steps = x.shape[0]
    if neuron.ta is not None:
        w1 = neuron.ta.excitation[0].weight.detach().numpy()
        w2 = neuron.ta.excitation[2].weight.detach().numpy()
        x = x * ta_reference(x, w1, w2, True)[:, :, None, None, None]
    beta = 1.0 - 1.0 / neuron.tau
    h = np.zeros(x.shape[1:])
    spikes = []
    for t in range(t_steps):
        u = beta * h + x[t]
        if neuron.ca is not None:
            u = channel_attention_reference(u, neuron.ca)[:, :, None, None] * u
        if neuron.sa is not None:
            u = spatial_attention_reference(u, neuron.sa)[:, None] * u
        s = (u >= neuron.v_threshold).astype(np.float64)
        h = u * (1.0 - s)
        spikes.append(s)
    return np.stack(spikes), h


@pytest.mark.parametrize("attention", ["TCSA", "TCA", "CSA", "TA", "CA", "SA"])
def test_attention_lif_matches_ma_snn_equations(attention):
    torch.manual_seed(5)
    neuron = AttentionLIF(
        attention, channels=4, T=6, reduction_t=2, reduction_c=2, decay_input=False, v_threshold=0.3
    )
    neuron = neuron.double()
    x = 3.0 * torch.rand(6, 2, 4, 5, 5, dtype=torch.float64)
    expected_s, expected_v = attention_lif_reference(x, neuron)
    s = neuron(x)
    assert s.shape == x.shape
    assert 0 < s.sum() < s.numel(), "the test input should make some neurons fire"
    np.testing.assert_array_equal(s.detach().numpy(), expected_s)
    np.testing.assert_allclose(neuron.v.detach().numpy(), expected_v, rtol=1e-12, atol=1e-12)


def test_attention_lif_keeps_state_across_calls_until_reset():
    torch.manual_seed(6)
    neuron = AttentionLIF("CSA", channels=3, decay_input=False, v_threshold=0.5)
    x = torch.rand(4, 1, 3, 4, 4)
    first = neuron(x)
    v_after_first = neuron.v.clone()
    neuron(x)
    # Same input, different state: the second call started from the first call's membrane.
    assert not torch.equal(neuron.v, v_after_first)
    reset_net(neuron)
    assert torch.equal(neuron(x), first)
    assert torch.equal(neuron.v, v_after_first)


def test_attention_lif_validates_its_configuration():
    with pytest.raises(ValueError):
        AttentionLIF("TX", channels=3, T=4)
    with pytest.raises(ValueError):
        AttentionLIF("TCSA", channels=3)  # no T
    neuron = AttentionLIF("TA", T=4, step_mode="s")
    with pytest.raises(RuntimeError):
        neuron(torch.zeros(1, 3, 2, 2))


def asa_reference(x, asa):
    """ASA by loops over (t, c), following the released code's equations."""
    x = x.numpy()
    t_steps, batch, chans = x.shape[:3]
    lam = asa.ratio
    alpha, beta = asa.alpha.item(), asa.beta.item()
    fc = asa.fc.weight.detach().numpy()
    out = np.zeros_like(x)
    for b in range(batch):
        m = np.zeros((t_steps, chans))
        for t in range(t_steps):
            for c in range(chans):
                avg, mx = x[t, b, c].mean(), x[t, b, c].max()
                m[t, c] = 0.5 * (avg + mx) + alpha * avg + beta * mx
        m = fc @ m  # the FC mixes time steps, per channel
        kc, kt = int(chans * lam), int(t_steps * lam)
        by_channel = np.zeros((t_steps, chans), bool)
        by_time = np.zeros((t_steps, chans), bool)
        for t in range(t_steps):
            by_channel[t, np.argsort(-m[t], kind="stable")[:kc]] = True
        for c in range(chans):
            by_time[np.argsort(-m[:, c], kind="stable")[:kt], c] = True
        important = by_channel ^ by_time
        xi = x[:, b] * important[:, :, None, None]
        xs = x[:, b] * ~important[:, :, None, None]
        maps = []
        for group, scale, conv in ((xi, lam, asa.conv_important), (xs, 1 - lam, asa.conv_sub)):
            pooled = np.stack([group.mean((0, 1)) / scale, group.max((0, 1))])[None]
            z = nn.functional.conv2d(torch.from_numpy(pooled), conv.weight.detach(), padding=conv.padding)
            maps.append(sigmoid(z.numpy()[0, 0]))
        out[:, b] = maps[0] * xi + maps[1] * xs
    return out


def test_asa_matches_the_equations_on_random_input():
    torch.manual_seed(7)
    asa = AdvanceSpatialAttention(T=4, ratio=0.5).double()
    x = torch.randn(4, 2, 6, 5, 5, dtype=torch.float64)
    np.testing.assert_allclose(asa(x).detach().numpy(), asa_reference(x, asa), rtol=1e-10, atol=1e-12)


def test_asa_important_group_by_hand():
    asa = AdvanceSpatialAttention(T=2, ratio=0.5).double()
    with torch.no_grad():
        asa.fc.weight.copy_(torch.eye(2))
    # H = W = 1: avg = max = x, so M = (1 + α + β) x = 2 x.
    x = torch.tensor([[3.0, 1.0], [4.0, 2.0]], dtype=torch.float64).view(2, 1, 2, 1, 1)
    torch.testing.assert_close(asa.importance(x)[:, 0], 2 * x[:, 0, :, 0, 0])
    # top channel per step: c0 at both steps; top step per channel: t1 for both channels.
    # XOR of {(0,0), (1,0)} and {(1,0), (1,1)} -> {(0,0), (1,1)}.
    expected = torch.tensor([[True, False], [False, True]])
    assert torch.equal(asa.important_mask(x)[:, 0], expected)
    with torch.no_grad():
        asa.conv_important.weight.zero_()
        asa.conv_sub.weight.zero_()
        asa.conv_sub.weight[0, 1, 1, 1] = 1.0  # the sub-important map is σ(max over its slices)
    y = asa(x)
    # important slices scaled by σ(0) = 1/2; sub-important ones (values 1 and 4) by σ(4).
    s4 = 1 / (1 + math.exp(-4.0))
    expected_y = torch.tensor([[3.0 * 0.5, 1.0 * s4], [4.0 * s4, 2.0 * 0.5]], dtype=torch.float64)
    torch.testing.assert_close(y[:, 0, :, 0, 0], expected_y)


def test_asa_selection_carries_no_gradient_but_the_maps_do():
    torch.manual_seed(8)
    asa = AdvanceSpatialAttention(T=4)
    asa(torch.randn(4, 2, 4, 3, 3)).sum().backward()
    assert asa.conv_important.weight.grad is not None and asa.conv_sub.weight.grad is not None
    assert asa.alpha.grad is None and asa.fc.weight.grad is None
