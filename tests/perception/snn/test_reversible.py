"""Temporal reversible block: same gradients as plain BPTT, activation memory flat in T."""

import copy

import pytest
import torch

from spikesight.perception.snn.base import detach_net, reset_net
from spikesight.perception.snn.reversible import RevLevel, StatelessSpike, TemporalReversibleBlock


def make_block(levels: int = 3, channels: int = 4, **kwargs) -> TemporalReversibleBlock:
    torch.manual_seed(0)
    specs = [RevLevel(2, channels, channels if levels > 1 else None, spike_input=False)]
    for l in range(1, levels):
        specs.append(RevLevel(channels, channels, channels if l + 1 < levels else None))
    return TemporalReversibleBlock(specs, **kwargs).double()


def pair(**kwargs):
    rev = make_block(**kwargs)
    plain = copy.deepcopy(rev)
    plain.reversible = False
    return rev, plain


def assert_same_grads(rev, plain):
    for (name, p_rev), p_plain in zip(rev.named_parameters(), plain.parameters(), strict=True):
        assert p_plain.grad is not None, name
        torch.testing.assert_close(p_rev.grad, p_plain.grad, rtol=1e-9, atol=1e-11, msg=name)


@pytest.mark.parametrize("return_sequence", [True, False])
def test_gradients_equal_plain_backpropagation_through_time(return_sequence):
    rev, plain = pair(return_sequence=return_sequence)
    x = torch.rand(7, 2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    y_rev, y_plain = rev(x), plain(x_plain)
    assert torch.equal(y_rev, y_plain)
    weight = torch.randn_like(y_rev)
    (y_rev * weight).sum().backward()
    (y_plain * weight).sum().backward()
    assert_same_grads(rev, plain)
    torch.testing.assert_close(x.grad, x_plain.grad, rtol=1e-9, atol=1e-11)
    assert any(p.grad.abs().sum() > 0 for p in rev.alphas)


def test_gradients_flow_across_streamed_windows_like_plain_bptt():
    rev, plain = pair()
    loss_rev = loss_plain = 0.0
    for window in range(3):
        x = torch.rand(4, 2, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(window))
        weight = torch.randn(
            4, 2, 4, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(10 + window)
        )
        loss_rev = loss_rev + (rev(x) * weight).sum()
        loss_plain = loss_plain + (plain(x) * weight).sum()
    loss_rev.backward()
    loss_plain.backward()
    assert_same_grads(rev, plain)


def test_truncated_windows_after_detach_net():
    rev, plain = pair()
    for block in (rev, plain):
        x = torch.rand(3, 2, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        block(x)
        detach_net(block)
        y = block(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view_as(y)).sum().backward()
    assert_same_grads(rev, plain)


def test_inverse_rebuilds_the_previous_states():
    block = make_block()
    prev = [torch.randn(2, 4, 5, 5, dtype=torch.float64) for _ in range(3)]
    x = torch.rand(2, 2, 5, 5, dtype=torch.float64)
    alphas = [a.detach() for a in block.alphas]
    with torch.no_grad():
        new = block.step(x, prev, alphas)
        rebuilt = [None] * 3
        for l in range(2, -1, -1):
            bottom = x if l == 0 else new[l - 1]
            top = rebuilt[l + 1] if l < 2 else None
            rebuilt[l] = (new[l] - block.levels[l](bottom, top)) / alphas[l]
    for a, b in zip(rebuilt, prev, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def saved_bytes(block: TemporalReversibleBlock, steps: int) -> int:
    """Bytes of distinct storages autograd keeps for backward after one forward over ``steps``."""
    reset_net(block)
    frame = torch.rand(1, 2, 2, 6, 6, dtype=torch.float64)
    x = frame.expand(steps, -1, -1, -1, -1)  # direct coding: one frame, no copy per step
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = block(x)
    del y
    return sum(storages.values())


def test_reversible_block_keeps_no_activations_per_step():
    rev, plain = pair(return_sequence=False, max_error_growth=None)
    rev_bytes = [saved_bytes(rev, t) for t in (2, 4, 8)]
    plain_bytes = [saved_bytes(plain, t) for t in (2, 4, 8)]
    assert rev_bytes[0] == rev_bytes[1] == rev_bytes[2]
    assert plain_bytes[2] - plain_bytes[1] == 2 * (plain_bytes[1] - plain_bytes[0]) > 0
    assert rev_bytes[0] < plain_bytes[0]


def test_inference_equals_plain_and_keeps_state_until_reset():
    rev, plain = pair()
    x = torch.rand(5, 1, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        first = rev(x)
        second = rev(x)
        assert torch.equal(first, plain(x))
        assert not torch.equal(first, second)
        reset_net(rev)
        assert rev.states is None
        assert torch.equal(rev(x), first)


def test_single_step_mode_equals_multi_step():
    rev, _ = pair()
    x = torch.rand(4, 1, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        multi = rev(x)
        reset_net(rev)
        rev.step_mode = "s"
        single = torch.stack([rev(frame) for frame in x])
    assert torch.equal(multi, single)


def test_stateless_spike_fires_from_the_current_input_only():
    spike = StatelessSpike()
    x = torch.tensor([-1.0, 0.2, 0.5, 0.9, 3.0], requires_grad=True)
    s = spike(x)
    assert s.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    s.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_alpha_is_kept_away_from_zero():
    rev, plain = pair()
    with torch.no_grad():
        for a in (*rev.alphas, *plain.alphas):
            a.fill_(1e-6)
    x = torch.rand(3, 1, 2, 4, 4, dtype=torch.float64)
    y_rev, y_plain = rev(x), plain(x)
    assert torch.isfinite(y_rev).all()
    (y_rev.sum() + y_plain.sum()).backward()
    assert_same_grads(rev, plain)


def float32_grad_error(steps: int, max_error_growth: float | None) -> float:
    rev = make_block(max_error_growth=max_error_growth, return_sequence=False).float()
    plain = copy.deepcopy(rev)
    plain.reversible = False
    x = torch.rand(1, 2, 2, 5, 5, generator=torch.Generator().manual_seed(0)).expand(steps, -1, -1, -1, -1)
    weight = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    (rev(x) * weight).sum().backward()
    (plain(x) * weight).sum().backward()
    return max(
        ((a.grad - b.grad).norm() / b.grad.norm()).item()
        for a, b in zip(rev.parameters(), plain.parameters(), strict=True)
        if b.grad.norm() > 0
    )


def test_kept_exact_states_bound_the_error_of_the_inverse_in_float32():
    # α = 0.5: an inverse step doubles a rounding error; 32 steps would amplify it 2^32 times.
    assert float32_grad_error(32, max_error_growth=64.0) < 1e-4
    assert float32_grad_error(32, max_error_growth=None) > 1e-2


def test_exact_states_are_kept_every_k_steps_only():
    rev = make_block(return_sequence=False, max_error_growth=1024.0)  # α = 0.5: K = 10
    assert rev.exact_state_interval(rev.effective_alphas()) == 10
    state = 2 * 4 * 6 * 6 * 8  # one level's state, float64 bytes
    assert saved_bytes(rev, 32) - saved_bytes(rev, 8) == 3 * 3 * state  # at t = 10, 20, 30: 3 levels
    with torch.no_grad():
        for a in rev.alphas:
            a.fill_(1.0)
    assert rev.exact_state_interval(rev.effective_alphas()) is None
    assert saved_bytes(rev, 32) == saved_bytes(rev, 8)
