"""Surrogate gradients: a Heaviside spike forward, a smooth derivative backward.

A spike is ``Θ(x) = 1 if x >= 0 else 0`` with ``x = v - v_threshold``; its true derivative is
zero almost everywhere, so training replaces it by the derivative ``g'(x)`` of a smooth
primitive ``g`` (Neftci, Mostafa & Zenke, "Surrogate gradient learning in spiking neural
networks", IEEE Signal Processing Magazine 2019). As in spikingjelly's
``activation_based.surrogate``, each function takes a sharpness ``alpha`` and a ``spiking``
flag: ``spiking=False`` makes the forward return ``g(x)`` itself, so ``gradcheck`` can verify
that the backward is exactly ``g'``.

============  ==========================================  ==============================================
name          primitive g(x)                              surrogate derivative g'(x)
============  ==========================================  ==============================================
Sigmoid       σ(αx)                                       α σ(αx) (1 - σ(αx))
ATan          arctan(π/2 · αx) / π + 1/2                  (α/2) / (1 + (π/2 · αx)²)
Rectangle     clamp(x/α + 1/2, 0, 1)                      1/α  if |x| < α/2  else 0
============  ==========================================  ==============================================

ATan is the surrogate of Fang et al., "Incorporating learnable membrane time constant to enhance
learning of spiking neural networks" (ICCV 2021); Rectangle is the rectangular pulse of width α and
height 1/α of Wu et al., "Spatio-temporal backpropagation for training high-performance spiking
neural networks" (Frontiers in Neuroscience 2018).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """``1`` where ``x >= 0``, else ``0``, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class SigmoidSpike(torch.autograd.Function):
    """Heaviside forward, ``α σ(αx)(1 - σ(αx))`` backward (``spiking=False``: forward ``σ(αx)``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float, spiking: bool = True) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x) if spiking else torch.sigmoid(alpha * x)

    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        sg = torch.sigmoid(alpha * x)
        return alpha * sg * (1.0 - sg)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (x,) = ctx.saved_tensors
        return grad_output * SigmoidSpike.derivative(x, ctx.alpha), None, None


class ATanSpike(torch.autograd.Function):
    """Heaviside forward, ``(α/2) / (1 + (π/2 αx)²)`` backward (``spiking=False``: forward the arctan)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float, spiking: bool = True) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        if spiking:
            return heaviside(x)
        return torch.atan(0.5 * math.pi * alpha * x) / math.pi + 0.5

    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return 0.5 * alpha / (1.0 + (0.5 * math.pi * alpha * x) ** 2)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (x,) = ctx.saved_tensors
        return grad_output * ATanSpike.derivative(x, ctx.alpha), None, None


class RectangleSpike(torch.autograd.Function):
    """Heaviside forward, ``1/α`` on ``|x| < α/2`` backward (``spiking=False``: forward the ramp)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float, spiking: bool = True) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x) if spiking else torch.clamp(x / alpha + 0.5, 0.0, 1.0)

    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return (x.abs() < 0.5 * alpha).to(x.dtype) / alpha

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (x,) = ctx.saved_tensors
        return grad_output * RectangleSpike.derivative(x, ctx.alpha), None, None


class SurrogateFunction(nn.Module):
    """A spike function with a surrogate gradient, as a module (so it shows in ``repr``)."""

    function: type[SigmoidSpike] | type[ATanSpike] | type[RectangleSpike]

    def __init__(self, alpha: float, spiking: bool = True) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)
        self.spiking = spiking

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function.apply(x, self.alpha, self.spiking)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative ``g'(x)`` (what the backward multiplies the incoming gradient by)."""
        return self.function.derivative(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, spiking={self.spiking}"


class Sigmoid(SurrogateFunction):
    """Sigmoid surrogate (spikingjelly's default, ``alpha=4``)."""

    function = SigmoidSpike

    def __init__(self, alpha: float = 4.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)


class ATan(SurrogateFunction):
    """Arctan surrogate (Fang et al. 2021, ``alpha=2``)."""

    function = ATanSpike

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)


class Rectangle(SurrogateFunction):
    """Rectangular surrogate of width ``alpha`` and height ``1/alpha`` (Wu et al. 2018)."""

    function = RectangleSpike

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)
