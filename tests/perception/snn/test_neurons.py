"""LIF neuron: hand-computed steps, a reference loop, reset modes, streaming."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.perception.snn import LIF, ATan, Neuron, reset_net
from spikesight.perception.snn.surrogate import SigmoidSpike


def _run_steps(neuron: LIF, xs: list[float]) -> tuple[list[float], list[float]]:
    """Feed one neuron a sequence step by step; return its spikes and membrane after each step."""
    neuron.step_mode = "s"
    spikes, vs = [], []
    for x in xs:
        spikes.append(neuron(torch.tensor([x])).item())
        vs.append(neuron.v.item())
    return spikes, vs


def test_lif_hard_reset_by_hand() -> None:
    # H = V + (X - V) / 2; fire at H >= 1; V = 0 after a spike.
    spikes, vs = _run_steps(LIF(tau=2.0), [1.5, 0.5, 1.5, 0.0])
    assert vs == [0.75, 0.625, 0.0, 0.0]  # H[2] = 0.625 + (1.5 - 0.625) / 2 = 1.0625 fired
    assert spikes == [0.0, 0.0, 1.0, 0.0]


def test_lif_soft_reset_by_hand() -> None:
    spikes, vs = _run_steps(LIF(tau=2.0, v_reset=None), [1.5, 0.5, 1.5, 0.0])
    assert spikes == [0.0, 0.0, 1.0, 0.0]
    assert vs == [0.75, 0.625, 0.0625, 0.03125]  # V[2] = 1.0625 - 1; V[3] = 0.0625 - 0.0625 / 2


def test_lif_without_input_decay_by_hand() -> None:
    # H = V - V / 2 + X.
    spikes, vs = _run_steps(LIF(tau=2.0, decay_input=False), [0.5, 0.5, 0.5, 0.25])
    assert vs == [0.5, 0.75, 0.875, 0.6875]
    assert spikes == [0.0, 0.0, 0.0, 0.0]
    spikes, _ = _run_steps(LIF(tau=2.0, decay_input=False), [0.6, 0.6, 0.6])
    assert spikes == [0.0, 0.0, 1.0]  # 0.6, 0.9, 1.05


def test_lif_nonzero_reset_potential_by_hand() -> None:
    # V starts at V_reset = -0.5; H = V + (X - (V + 0.5)) / 2.
    spikes, vs = _run_steps(LIF(tau=2.0, v_reset=-0.5), [2.0, 3.0, 0.0])
    assert vs == [0.5, -0.5, -0.5]  # H[1] = 0.5 + (3 - 1) / 2 = 1.5 fired -> V_reset
    assert spikes == [0.0, 1.0, 0.0]


def test_lif_fires_at_exactly_the_threshold() -> None:
    spikes, vs = _run_steps(LIF(tau=2.0, v_threshold=1.0), [2.0])
    assert spikes == [1.0] and vs == [0.0]
    spikes, _ = _run_steps(LIF(tau=2.0, v_threshold=1.0), [1.9999])
    assert spikes == [0.0]


def _reference_lif(x_seq, tau, decay_input, v_th, v_reset, detach_reset, alpha):
    """The module docstring's equations, one scalar loop per step (obviously correct, slow)."""
    rest = 0.0 if v_reset is None else v_reset
    v = torch.full_like(x_seq[0], rest)
    spikes, vs = [], []
    for x in x_seq:
        h = v + (x - (v - rest)) / tau if decay_input else v - (v - rest) / tau + x
        s = SigmoidSpike.apply(h - v_th, alpha, True)
        sr = s.detach() if detach_reset else s
        v = h - sr * v_th if v_reset is None else h * (1 - sr) + v_reset * sr
        spikes.append(s)
        vs.append(v)
    return torch.stack(spikes), torch.stack(vs)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    tau=st.sampled_from([1.5, 2.0, 4.0]),
    decay_input=st.booleans(),
    v_reset=st.sampled_from([None, 0.0, -0.3]),
    detach_reset=st.booleans(),
    steps=st.integers(1, 6),
)
def test_lif_matches_reference_values_and_gradients(seed, tau, decay_input, v_reset, detach_reset, steps):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, 3, 4, generator=gen, dtype=torch.float64) * 3 - 0.5).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    lif = LIF(tau=tau, decay_input=decay_input, v_reset=v_reset, detach_reset=detach_reset, store_v_seq=True)
    spikes = lif(x)
    ref_spikes, ref_v = _reference_lif(x_ref, tau, decay_input, 1.0, v_reset, detach_reset, 4.0)
    torch.testing.assert_close(spikes, ref_spikes)
    torch.testing.assert_close(lif.v_seq, ref_v)
    torch.testing.assert_close(lif.v, ref_v[-1])
    w = torch.rand(x.shape, generator=gen, dtype=torch.float64)
    (spikes * w).sum().backward()
    (ref_spikes * w).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_detach_reset_changes_only_the_gradient() -> None:
    x = torch.tensor([[1.8], [0.9]], dtype=torch.float64)
    grads, outs = [], []
    for detach in (False, True):
        xg = x.clone().requires_grad_()
        out = LIF(detach_reset=detach)(xg)
        out[1].sum().backward()
        grads.append(xg.grad[0].item())
        outs.append(out.detach())
    torch.testing.assert_close(outs[0], outs[1])
    # dS1/dX0 = g'(H1 - 1) * dH1/dX0, and dH1/dX0 = (1 - 1/tau) dV0/dX0 with
    # V0 = H0 (1 - S0): dV0/dX0 = (1 - S0) / tau - H0 g'(H0 - 1) / tau, the second term only if not detached.
    h0, s0 = 0.9, 0.0
    h1 = h0 * (1 - s0) + (0.9 - h0 * (1 - s0)) / 2

    def g(u: float) -> float:
        sg = torch.sigmoid(torch.tensor(4.0 * u)).item()
        return 4.0 * sg * (1 - sg)

    dv0_attached = (1 - s0) / 2 - h0 * g(h0 - 1) / 2
    dv0_detached = (1 - s0) / 2
    assert grads[0] == pytest.approx(g(h1 - 1) * 0.5 * dv0_attached)
    assert grads[1] == pytest.approx(g(h1 - 1) * 0.5 * dv0_detached)


def test_multi_step_equals_single_steps_and_streaming_windows() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(8, 2, 5, generator=gen) * 2
    whole = LIF(v_reset=None)(x)
    single = LIF(v_reset=None, step_mode="s")
    torch.testing.assert_close(torch.stack([single(xt) for xt in x]), whole)
    stream = LIF(v_reset=None)
    torch.testing.assert_close(torch.cat([stream(x[:3]), stream(x[3:5]), stream(x[5:])]), whole)
    reset_net(stream)
    torch.testing.assert_close(stream(x), whole)


def test_state_shape_mismatch_asks_for_reset() -> None:
    lif = LIF()
    lif(torch.rand(2, 3, 4))
    with pytest.raises(RuntimeError, match="reset_net"):
        lif(torch.rand(2, 5, 4))
    reset_net(lif)
    assert lif(torch.rand(2, 5, 4)).shape == (2, 5, 4)


def test_surrogate_choice_and_validation() -> None:
    lif = LIF(surrogate_function=ATan())
    assert isinstance(lif, Neuron) and lif.max_spike == 1
    x = torch.zeros(1, 1, requires_grad=True)
    lif(x).sum().backward()
    # dS/dX = g'(H - 1) / tau with H = 0; ATan with alpha = 2: g'(x) = 1 / (1 + (pi x)^2).
    assert x.grad.item() == pytest.approx(1.0 / (1.0 + torch.pi**2) / 2.0)
    with pytest.raises(ValueError):
        LIF(tau=0.5)
    assert LIF(tau=1.0)(torch.tensor([[0.4], [0.7]])).flatten().tolist() == [0.0, 0.0]  # H = X: no memory
    with pytest.raises(ValueError):
        LIF(v_threshold=0.5, v_reset=0.5)
    assert "tau=2.0" in repr(LIF())


def _run_two_windows(lif: LIF, x: torch.Tensor, split: int) -> torch.Tensor:
    """Spikes of two windows without detaching in between, plus the final membrane (so the loss
    reaches the state and flows back across the window boundary)."""
    if lif.step_mode == "s":
        out = torch.stack([lif(xt) for xt in x])
    else:
        out = torch.cat([lif(x[:split]), lif(x[split:])])
    return torch.cat([out.flatten(), lif.v.flatten()])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    decay_input=st.booleans(),
    v_reset=st.sampled_from([None, 0.0, -0.3]),
    detach_reset=st.booleans(),
    store_v_seq=st.booleans(),
    surrogate=st.sampled_from(["sigmoid", "atan", "rectangle"]),
    split=st.integers(0, 5),
)
def test_fused_sequence_matches_step_by_step_autograd(
    seed, decay_input, v_reset, detach_reset, store_v_seq, surrogate, split
):
    # Multi-step LIF runs one fused autograd node; single-step composes autograd ops per step.
    from spikesight.perception.snn import Rectangle, Sigmoid

    make_sg = {"sigmoid": Sigmoid, "atan": ATan, "rectangle": Rectangle}[surrogate]
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(5, 2, 3, generator=gen, dtype=torch.float64) * 3 - 0.5
    w = torch.rand(5 * 6 + 6, generator=gen, dtype=torch.float64)
    results = []
    for mode in ("m", "s"):
        lif = LIF(
            decay_input=decay_input,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate_function=make_sg(),
            step_mode=mode,
            store_v_seq=store_v_seq,
        )
        xg = x.clone().requires_grad_()
        out = _run_two_windows(lif, xg, split)
        (out * w).sum().backward()
        results.append((out.detach(), xg.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def test_fused_inference_matches_and_keeps_no_graph() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(6, 4, 7, generator=gen) * 2
    for v_reset in (None, 0.0):
        with torch.no_grad():
            fused = LIF(v_reset=v_reset, store_v_seq=True)
            out = fused(x)
        looped = LIF(v_reset=v_reset, step_mode="s")
        ref = torch.stack([looped(xt) for xt in x]).detach()
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(fused.v, looped.v.detach())
        torch.testing.assert_close(fused.v_seq[-1], fused.v)
        assert out.grad_fn is None and fused.v.grad_fn is None


def test_any_callable_serves_as_spike_function() -> None:
    # A plain callable (not a SurrogateFunction) is honoured: here a soft, sigmoid "spike".
    lif = LIF(surrogate_function=torch.sigmoid, v_reset=None)
    out = lif(torch.tensor([[1.0], [1.0]]))
    h0 = 0.5
    s0 = torch.sigmoid(torch.tensor(h0 - 1.0)).item()
    h1 = (h0 - s0) + (1.0 - (h0 - s0)) / 2
    assert out.flatten().tolist() == pytest.approx([s0, torch.sigmoid(torch.tensor(h1 - 1.0)).item()])


def test_subclass_with_other_equations_is_not_fused() -> None:
    class DoubleInput(LIF):
        def neuronal_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return super().neuronal_charge(2 * x, v)

    x = torch.full((1, 1), 1.0)
    assert LIF()(x).item() == 0.0  # H = 0.5
    assert DoubleInput()(x).item() == 1.0  # H = 1.0
