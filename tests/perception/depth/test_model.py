"""The spiking depth U-Net and its ANN twin: shapes, binary spikes, state, membrane shortcut, gradients."""

import json
from dataclasses import replace

import pytest
import torch

from spikesight.perception.depth import DEPTH_CONFIGS, DepthConfig, build_depth_model, count_parameters
from spikesight.perception.depth.model import DepthNet
from spikesight.perception.snn import Neuron, SpikeMonitor, reset_net

TINY = DEPTH_CONFIGS["tiny"]
ANN = replace(TINY, ann=True)
MULTI = TINY
LAST = replace(TINY, readout="last")  # the readout of weights made before the multi-scale one


def events(t=5, b=2, h=20, w=36, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, b, 2, h, w, generator=g) < 0.3).float() * 2.0


@pytest.mark.parametrize("config", [TINY, ANN, replace(TINY, head_stride=1, attention=False)])
@pytest.mark.parametrize("size", [(16, 32), (21, 30)])
def test_output_shape_and_range(config, size):
    model = DepthNet(config).eval()
    with torch.no_grad():
        y = model(events(h=size[0], w=size[1]))
    assert y.shape == (2, 1, *size)
    assert bool(((y >= 0) & (y <= 1)).all())


def test_neuron_outputs_are_binary_and_synapses_accumulate_spikes():
    model = DepthNet(TINY).train()  # batch statistics keep an untrained network active
    outputs = {}
    for name, m in model.named_modules():
        if isinstance(m, Neuron):
            m.register_forward_hook(lambda mod, inp, out, name=name: outputs.__setitem__(name, out))
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        model(events())
    assert len(outputs) == 3 + 2 * TINY.residual_blocks + 3 + 1
    for name, out in outputs.items():
        assert bool(((out == 0) | (out == 1)).all()), name
    assert all(float(out.sum()) > 0 for out in outputs.values())
    # Only the head conv (fed the events) and the attention modules (fed membranes) multiply; every
    # other synaptic layer receives spikes.
    real = {name for name, ops in monitor.last.ops.items() if ops.real_macs}
    assert "head.conv" in real
    assert all(name == "head.conv" or ".neuron." in name for name in real), real
    assert monitor.last.energy.sops > 0


def test_state_persists_across_calls_until_reset():
    model = DepthNet(TINY).train()  # batch statistics keep an untrained network active
    x = events()
    with torch.no_grad():
        first = model(x)
        second = model(x)  # membranes carried over from the first window
        model.reset()
        again = model(x)
        reset_net(model)
        once_more = model(x)
    assert not torch.allclose(first, second)
    assert torch.equal(first, again) and torch.equal(first, once_more)


def test_ann_twin_is_stateless_and_folds_time_into_channels():
    model = DepthNet(ANN).eval()
    x = events()
    seen = []
    model.head.conv.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    assert model.head.conv.in_channels == 5 * 2
    folded = torch.cat([x[t] for t in range(5)], dim=1)  # channel t * C + c
    padded = torch.nn.functional.pad(folded, (0, 48 - 36, 0, 32 - 20))
    assert torch.equal(seen[0], padded)
    assert not any(isinstance(m, Neuron) for m in model.modules())


def test_residual_shortcut_adds_membrane_before_the_next_neuron():
    model = DepthNet(TINY).train()  # batch statistics keep an untrained network active
    seen = {}

    def keep(key):
        return lambda mod, inp, out: seen.__setitem__(key, (inp[0], out))

    block = model.residual[0]
    block.register_forward_hook(keep("block"))
    block.conv2.register_forward_hook(keep("branch"))
    model.residual[-1].register_forward_hook(keep("last"))
    model.decoders[0].neuron.register_forward_hook(keep("neuron"))
    with torch.no_grad():
        model(events())
    u, out = seen["block"]
    branch = seen["branch"][1]
    assert torch.allclose(out, u + branch)  # real-valued sum, no neuron on the shortcut path
    assert not bool(((out == 0) | (out == 1)).all())
    # The summed membrane input reaches the decoder's neuron unchanged; its output is binary.
    neuron_in, neuron_out = seen["neuron"]
    assert torch.equal(neuron_in, seen["last"][1])
    assert bool(((neuron_out == 0) | (neuron_out == 1)).all())


@pytest.mark.parametrize("config", [TINY, ANN, LAST, replace(ANN, readout="last")])
def test_gradients_reach_every_parameter(config):
    model = DepthNet(config).train()
    y = model(events(b=2))
    ((y - 0.3) ** 2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert float(model.head.conv.weight.grad.abs().sum()) > 0
    assert float(model.predict.conv.weight.grad.abs().sum()) > 0


def test_batch_of_one_then_another_batch_size_after_reset():
    model = DepthNet(TINY).eval()
    with torch.no_grad():
        model(events(b=1))
        with pytest.raises(RuntimeError):
            model(events(b=3))
        model.reset()
        assert model(events(b=3)).shape == (3, 1, 20, 36)


def test_rejects_wrong_input_layout():
    model = DepthNet(TINY)
    with pytest.raises(ValueError):
        model(torch.zeros(4, 1, 2, 16, 16))  # T differs from the config
    with pytest.raises(ValueError):
        model(torch.zeros(5, 1, 3, 16, 16))  # C differs
    with pytest.raises(ValueError):
        model(torch.zeros(1, 2, 16, 16))


def test_configs_round_trip_and_validate():
    for name, cfg in DEPTH_CONFIGS.items():
        assert cfg.name == name
        d = json.loads(json.dumps(cfg.to_dict()))
        assert DepthConfig.from_dict(d) == cfg
    assert TINY.min_depth == pytest.approx(80 * 2.718281828459045**-3.7)
    assert TINY.channels == (8, 16, 32, 64) and TINY.multiple == 16
    assert DEPTH_CONFIGS["paper"].channels == (32, 64, 128, 256)
    for bad in (dict(steps=0), dict(kernel_size=4), dict(attention_kind="TX"), dict(min_depth=100.0)):
        with pytest.raises(ValueError):
            replace(TINY, **bad)
    with pytest.raises(ValueError):
        DepthConfig.from_dict({"nonsense": 1})
    with pytest.raises(ValueError):
        build_depth_model("huge")


def test_build_and_parameter_count_match_between_twins():
    snn, ann = build_depth_model("tiny"), build_depth_model(ANN)
    assert isinstance(snn, DepthNet) and snn.config == TINY
    # Same network: only the head conv's input channels and the attention modules differ.
    assert abs(count_parameters(snn) - count_parameters(ann)) < 0.01 * count_parameters(snn)


def test_multiscale_readout_sums_the_spikes_of_three_decoder_scales():
    model = DepthNet(MULTI).eval()
    seen = {}
    for name, module in (("s0", model.predict.neuron), ("s1", model.decoders[2].neuron),
                         ("s2", model.decoders[1].neuron)):
        module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
    with torch.no_grad():
        y = model(events(h=32, w=48))
    s0, s1, s2 = seen["s0"], seen["s1"], seen["s2"]
    assert s0.shape[-2:] == (16, 24) and s1.shape[-2:] == (8, 12) and s2.shape[-2:] == (4, 6)
    assert s1.shape[2] == MULTI.channels[1] and s2.shape[2] == MULTI.channels[2]
    for s in (s0, s1, s2):
        assert bool(((s == 0) | (s == 1)).all())
    p = model.predict

    def up(z, size):
        return torch.nn.functional.interpolate(z, size=size, mode="bilinear", align_corners=False)

    with torch.no_grad():
        per_step = [torch.nn.functional.conv2d(s0[t], p.conv.weight, p.conv.bias, padding=1)
                    + up(torch.nn.functional.conv2d(s1[t], p.coarse[0].weight), (16, 24))
                    + up(torch.nn.functional.conv2d(s2[t], p.coarse[1].weight), (16, 24))
                    for t in range(MULTI.steps)]
        expect = torch.sigmoid(up(torch.stack(per_step).mean(0), (32, 48)))
    assert torch.allclose(y, expect, atol=1e-6)


def test_last_readout_keeps_the_earlier_layout():
    assert DepthConfig().readout == "last"  # a manifest without the field rebuilds the earlier network
    names = set(DepthNet(LAST).state_dict())
    assert {"predict.conv.weight", "predict.conv.bias"} <= names
    assert not any(n.startswith("predict.coarse") for n in names)
    assert DepthNet(LAST).predict.conv.kernel_size == (1, 1)
    with pytest.raises(ValueError, match="readout"):
        replace(TINY, readout="mean")
