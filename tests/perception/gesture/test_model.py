"""GestureNet (TA-SNN / MA-SNN): shapes, frame dropping against the masked computation, state, learning."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikesight.perception.gesture import CONFIGS, GestureNet, GestureNetConfig

TINY = replace(CONFIGS["small"], T=8, conv_channels=(8, 16, 16), hidden=32, size=16)


def frames(cfg: GestureNetConfig, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (cfg.T, batch, cfg.in_channels, cfg.size, cfg.size)
    return (torch.rand(shape, generator=g) < 0.2).float() * torch.randint(1, 4, shape, generator=g)


def test_paper_layout_and_output_shape():
    cfg = CONFIGS["ta-snn"]
    net = GestureNet(cfg).eval()
    assert (cfg.T, cfg.dt_us, cfg.size) == (60, 15_000, 32)
    assert cfg.flat_features == 8192
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [
        (2, 64, (3, 3)),
        (64, 128, (3, 3)),
        (128, 128, (3, 3)),
    ]
    fcs = [m for m in net.modules() if isinstance(m, nn.Linear) and m.out_features in (256, 11)]
    assert [(m.in_features, m.out_features) for m in fcs] == [(8192, 256), (256, 11)]
    with torch.no_grad():
        out = net(frames(cfg, 1))
    assert out.shape == (1, 11)
    # a firing rate: a multiple of 1/T in [0, 1]
    assert ((out * cfg.T - (out * cfg.T).round()).abs() < 1e-4).all()
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("attention", ["none", "TA", "TCSA", "CA"])
def test_variants_run(attention):
    cfg = replace(TINY, attention=attention, input_attention=attention != "none")
    net = GestureNet(cfg).eval()
    with torch.no_grad():
        out = net(frames(cfg, 2))
    assert out.shape == (2, 11)


def test_bad_config_and_input():
    with pytest.raises(ValueError):
        GestureNetConfig(attention="TX")
    with pytest.raises(ValueError):
        GestureNetConfig(input_attention=False, d_th=0.5)
    net = GestureNet(TINY)
    with pytest.raises(ValueError):
        net(torch.zeros(TINY.T + 1, 1, 2, TINY.size, TINY.size))


def masked_reference(net: GestureNet, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The masked network, written out: every layer's current is keep[t] * op(X[t]) on all frames.
    Returns the rates and each layer's spike count."""
    from spikesight.perception.snn import reset_net

    reset_net(net)
    k = keep.to(x.dtype)
    x = x * k[..., None, None, None]
    counts = []
    for layer in [*net.conv_layers, "flatten", *net.fc_layers]:
        if layer == "flatten":
            x = x.flatten(2)
            continue
        t, b = x.shape[:2]
        cur = layer.op.layer(x.flatten(0, 1)).unflatten(0, (t, b))
        cur = cur * k.view(t, b, *([1] * (cur.dim() - 2)))
        if layer.ta is not None:
            cur = layer.ta(cur)
        x = layer.neuron(cur)
        counts.append(int(x.sum()))
    return x.mean(0), counts


@pytest.mark.parametrize("attention", ["TA", "TCSA"])
def test_dropped_frames_cost_nothing_and_match_the_masked_computation(attention):
    torch.manual_seed(3)
    cfg = replace(TINY, attention=attention, use_max=attention != "TA")
    net = GestureNet(cfg).eval()
    x = frames(cfg, 3, seed=5)
    x = x * torch.linspace(0.0, 2.0, cfg.T).view(-1, 1, 1, 1, 1)  # frames of different event counts
    with torch.no_grad():  # an input attention whose scores differ between frames
        w1, w2 = net.gate.excitation[0].weight, net.gate.excitation[2].weight
        w1.fill_(1.0 / cfg.T)
        w2.copy_(torch.linspace(-3.0, 3.0, cfg.T)[:, None].expand_as(w2))
        scores = net.frame_scores(x).flatten().sort().values
    half = len(scores) // 2
    net.d_th = float(scores[half - 1] + scores[half]) / 2
    keep = net.frame_scores(x) >= net.d_th
    assert 0 < keep.sum() < keep.numel()

    rows: list[int] = []
    hooks = [
        m.register_forward_pre_hook(lambda _m, inp: rows.append(inp[0].shape[0]))
        for layer in net.layers
        for m in layer.op.layer.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        out = net(x)
    for h in hooks:
        h.remove()
    assert rows == [int(keep.sum())] * 5  # 3 convs + 2 FCs, each on the kept frames only
    assert torch.equal(net.last_keep, keep)
    with torch.no_grad():
        ref, _ = masked_reference(net, x, keep)
    torch.testing.assert_close(out, ref)

    # without a threshold, or in training mode, nothing is dropped
    net.d_th = None
    with torch.no_grad():
        net(x)
    assert net.last_keep.all()


def test_dropping_everything_gives_zero_output():
    net = GestureNet(TINY).eval()
    net.d_th = 1.0
    with torch.no_grad():
        out = net(frames(TINY, 2))
    assert not net.last_keep.any()
    assert torch.equal(out, torch.zeros(2, 11))


def test_state_is_reset_between_samples():
    torch.manual_seed(1)
    net = GestureNet(TINY).eval()
    a, b = frames(TINY, 2, seed=1), frames(TINY, 2, seed=2)
    with torch.no_grad():
        fresh = GestureNet(TINY).eval()
        fresh.load_state_dict(net.state_dict())
        expected = fresh(b)
        net(a)
        after_a = net(b)
    torch.testing.assert_close(after_a, expected, rtol=0, atol=0)


def test_overfits_a_handful_of_samples():
    torch.manual_seed(0)
    net = GestureNet(TINY)
    x = frames(TINY, 6, seed=7)
    y = torch.arange(6)
    target = F.one_hot(y, 11).float()
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    losses = []
    for _ in range(20):
        loss = F.mse_loss(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        assert (net(x).argmax(1) == y).float().mean() >= 0.5


def test_config_round_trip():
    cfg = CONFIGS["ma-snn"]
    assert GestureNetConfig.from_dict(cfg.to_dict()) == cfg


def test_input_attention_starts_with_frame_dependent_scores():
    # a bias-free MLP on non-negative squeezes: hidden units with negative weights would never open
    for seed in range(5):
        torch.manual_seed(seed)
        net = GestureNet(TINY)
        x = frames(TINY, 1) * torch.linspace(0.1, 2.0, TINY.T).view(-1, 1, 1, 1, 1)
        with torch.no_grad():
            scores = net.frame_scores(x)
        assert scores.std() > 1e-3
