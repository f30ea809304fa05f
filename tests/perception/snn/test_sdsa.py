"""Spike-driven self-attention: the formula on random spikes, linear cost in tokens, state."""

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from spikesight.perception.snn.base import reset_net
from spikesight.perception.snn.neurons import LIF
from spikesight.perception.snn.sdsa import SpikeDrivenSelfAttention, spike_driven_attention


def lif_reference(x_seq: np.ndarray, tau: float, v_threshold: float) -> np.ndarray:
    """spikingjelly LIF (decay_input, hard reset to 0) by a loop."""
    v = np.zeros(x_seq.shape[1:])
    out = []
    for x in x_seq:
        h = v + (x - v) / tau
        s = (h >= v_threshold).astype(np.float64)
        v = h * (1 - s)
        out.append(s)
    return np.stack(out)


def random_spikes(shape, p, generator):
    return torch.bernoulli(torch.full(shape, p, dtype=torch.float64), generator=generator)


def test_sdsa_equals_the_formula_on_random_spikes():
    g = torch.Generator().manual_seed(0)
    t_steps, batch, tokens, dim = 5, 3, 16, 8
    q, k, v = (random_spikes((t_steps, batch, tokens, dim), 0.3, g) for _ in range(3))
    out = spike_driven_attention(q, k, v, LIF(tau=2.0, v_threshold=0.5))
    qn, kn, vn = q.numpy(), k.numpy(), v.numpy()
    # SUM_c: per step, sample and channel, the number of tokens where Q and K both fire.
    column_sum = np.zeros((t_steps, batch, 1, dim))
    for t in range(t_steps):
        for b in range(batch):
            for d in range(dim):
                column_sum[t, b, 0, d] = sum(qn[t, b, n, d] and kn[t, b, n, d] for n in range(tokens))
    mask = lif_reference(column_sum, 2.0, 0.5)
    expected = np.where(mask.astype(bool), vn, 0.0)
    assert 0 < mask.sum() < mask.size, "the test should produce both kept and masked channels"
    np.testing.assert_array_equal(out.numpy(), expected)
    assert set(np.unique(out.numpy())) <= {0.0, 1.0}


class OpCounter(TorchDispatchMode):
    """Counts the aten operators run and the elements each one produces."""

    def __init__(self):
        super().__init__()
        self.ops: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        numel = sum(
            o.numel() for o in (out if isinstance(out, (tuple, list)) else [out]) if torch.is_tensor(o)
        )
        self.ops[name] = self.ops.get(name, 0) + numel
        return out


def sdsa_ops(tokens: int, dim: int = 16) -> dict[str, int]:
    g = torch.Generator().manual_seed(tokens)
    q, k, v = (random_spikes((2, 1, tokens, dim), 0.5, g) for _ in range(3))
    neuron = LIF(tau=2.0, v_threshold=0.5)
    with OpCounter() as counter:
        spike_driven_attention(q, k, v, neuron)
    return counter.ops


def test_sdsa_uses_no_matrix_product_and_its_work_is_linear_in_tokens():
    counts = {n: sdsa_ops(n) for n in (32, 64, 128)}
    for ops in counts.values():
        assert not {"mm", "bmm", "addmm", "matmul", "_softmax"} & set(ops)
    totals = {n: sum(ops.values()) for n, ops in counts.items()}
    # work = a N + b: equal increments for equal steps in N (b is the neuron on [T, B, 1, D]).
    assert totals[128] - totals[64] == 2 * (totals[64] - totals[32])
    assert totals[64] - totals[32] > 0


def vanilla_attention_flops(tokens: int, dim: int = 16) -> int:
    q, k, v = (torch.rand(2, 1, tokens, dim) for _ in range(3))
    with FlopCounterMode(display=False) as counter:
        torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
    return counter.get_total_flops()


def module_flops(tokens: int, dim: int = 16) -> int:
    torch.manual_seed(tokens)
    attn = SpikeDrivenSelfAttention(dim).eval()
    s = (torch.rand(2, 1, tokens, dim) < 0.3).float()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        attn(s)
    return counter.get_total_flops()


def test_module_cost_doubles_with_tokens_while_vanilla_attention_quadruples():
    assert module_flops(128) == 2 * module_flops(64)
    assert vanilla_attention_flops(128) == 4 * vanilla_attention_flops(64)


def test_module_accepts_tokens_and_feature_maps_alike():
    torch.manual_seed(1)
    attn = SpikeDrivenSelfAttention(6).eval()
    fmap = (torch.rand(3, 2, 6, 4, 5) < 0.4).float()
    tokens = fmap.flatten(3).transpose(-1, -2)  # [T, B, N, D]
    y_map = attn(fmap)
    reset_net(attn)
    y_tok = attn(tokens)
    assert y_map.shape == fmap.shape
    torch.testing.assert_close(y_map.flatten(3).transpose(-1, -2), y_tok)


def test_single_step_calls_equal_one_multi_step_call():
    torch.manual_seed(2)
    attn = SpikeDrivenSelfAttention(8).eval()
    s = (torch.rand(4, 2, 10, 8) < 0.4).float()
    y_multi = attn(s)
    reset_net(attn)
    from spikesight.perception.snn.base import set_step_mode

    set_step_mode(attn, "s")
    y_single = torch.stack([attn(x) for x in s])
    torch.testing.assert_close(y_multi, y_single)


def test_state_persists_across_calls_until_reset():
    torch.manual_seed(3)
    attn = SpikeDrivenSelfAttention(8).eval()
    with torch.no_grad():
        attn.q_bn.bias.fill_(0.8)
        attn.k_bn.bias.fill_(0.8)
        attn.v_bn.bias.fill_(0.8)
    s = (torch.rand(2, 1, 12, 8) < 0.5).float()
    first = attn(s)
    second = attn(s)
    assert not torch.equal(first, second)
    reset_net(attn)
    torch.testing.assert_close(attn(s), first)


def test_gradients_reach_every_projection():
    torch.manual_seed(4)
    attn = SpikeDrivenSelfAttention(8)
    with torch.no_grad():
        for bn in (attn.q_bn, attn.k_bn, attn.v_bn):
            bn.bias.fill_(1.5)  # dense enough firing for every path to carry spikes
    s = (torch.rand(3, 2, 10, 8) < 0.5).float()
    y = attn(s)
    (y * torch.randn_like(y)).sum().backward()
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert getattr(attn, name).weight.grad.abs().sum() > 0, name
