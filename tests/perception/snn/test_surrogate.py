"""Surrogate gradients: Heaviside forward, the stated derivative backward."""

import math

import pytest
import torch

from spikesight.perception.snn import surrogate
from spikesight.perception.snn.surrogate import ATanSpike, RectangleSpike, SigmoidSpike

FUNCTIONS = [SigmoidSpike, ATanSpike, RectangleSpike]


def _sigmoid_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    e = torch.exp(-alpha * x)
    return alpha * e / (1.0 + e) ** 2


def _atan_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return alpha / 2.0 / (1.0 + (math.pi / 2.0 * alpha * x) ** 2)


def _rectangle_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.where(x.abs() < alpha / 2.0, 1.0 / alpha, 0.0).to(x.dtype)


ANALYTIC = {SigmoidSpike: _sigmoid_grad, ATanSpike: _atan_grad, RectangleSpike: _rectangle_grad}


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_forward_is_heaviside(fn: type[torch.autograd.Function]) -> None:
    x = torch.tensor([-2.0, -1e-7, 0.0, 1e-7, 3.0])
    assert fn.apply(x, 2.0, True).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("alpha", [0.5, 1.0, 4.0])
def test_backward_matches_analytic_derivative(fn: type[torch.autograd.Function], alpha: float) -> None:
    x = torch.linspace(-3, 3, 61, dtype=torch.float64).requires_grad_()
    fn.apply(x, alpha, True).backward(torch.ones_like(x))
    torch.testing.assert_close(x.grad, ANALYTIC[fn](x.detach(), alpha))


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("alpha", [0.7, 2.0, 5.0])
def test_backward_is_the_derivative_of_the_primitive(fn: type[torch.autograd.Function], alpha: float) -> None:
    # spiking=False: forward is the smooth primitive g, so gradcheck compares g' numerically.
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(40, dtype=torch.float64, generator=gen) * 4 - 2).requires_grad_()
    if fn is RectangleSpike:  # keep clear of the two kinks where g is not differentiable
        x = x.detach()
        x = x[(x.abs() - alpha / 2).abs() > 1e-3].requires_grad_()
    assert torch.autograd.gradcheck(lambda t: fn.apply(t, alpha, False), (x,))


def test_primitives_are_smooth_steps() -> None:
    x = torch.tensor([-100.0, 0.0, 100.0], dtype=torch.float64)
    for fn in FUNCTIONS:
        y = fn.apply(x, 2.0, False)
        torch.testing.assert_close(y, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64), atol=1e-2, rtol=0)


def test_the_gradient_sums_to_one() -> None:
    # Each g is a CDF: its derivative integrates to 1, so the surrogate is a proper smoothing of Θ'.
    x = torch.linspace(-400, 400, 800_001, dtype=torch.float64)
    for module in (surrogate.Sigmoid(), surrogate.ATan(), surrogate.Rectangle()):
        xg = x.clone().requires_grad_()
        module(xg).sum().backward()
        integral = torch.trapezoid(xg.grad, x).item()
        assert integral == pytest.approx(1.0, abs=2e-3)


def test_modules_and_defaults() -> None:
    assert surrogate.Sigmoid().alpha == 4.0
    assert surrogate.ATan().alpha == 2.0
    assert surrogate.Rectangle().alpha == 1.0
    assert "alpha=4.0" in repr(surrogate.Sigmoid())
    with pytest.raises(ValueError):
        surrogate.Sigmoid(alpha=0.0)
    x = torch.tensor([0.3], requires_grad=True)
    surrogate.Sigmoid(alpha=4.0)(x).backward()
    torch.testing.assert_close(x.grad, _sigmoid_grad(x.detach(), 4.0))


def test_no_input_grad_needed() -> None:
    x = torch.randn(5)
    w = torch.tensor(2.0, requires_grad=True)
    (SigmoidSpike.apply(x, 4.0, True) * w).sum().backward()
    assert w.grad is not None
