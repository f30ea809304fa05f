"""Temporal reversible block (T-RevSNN): training memory that does not grow with the number of steps.

Hu, Yao et al., "High-Performance Temporal Reversible Spiking Neural Networks with O(L) Training
Memory and O(1) Inference Cost", ICML 2024 (PMLR 235:19516-19530); code BICLab/T-RevSNN
(``models/rev_function.py``, ``models/spike_rev_reuse.py``, after RevCol, Apache-2.0; read for
the facts only).

Temporal dynamics are turned off in most neurons: inside a level every spiking neuron fires from
its current input only, ``s = Θ(x - 0.5)`` (no membrane carried over time; the code's ``Quant``).
They stay on at the L level outputs ("turn-on" neurons), whose potentials c_l interact across
time steps through a reversible update. With c_{-1}^t = x^t (the input of step t)::

    c_l^t = F_l(c_{l-1}^t, c_{l+1}^{t-1}) + α_l c_l^{t-1}        (c_L^{t-1} := none)

F_l sees the level below at the same step and the level above at the previous step. The update
can be inverted, top level first, given the states of step t and the input x^t::

    c_l^{t-1} = (c_l^t - F_l(c_{l-1}^t, c_{l+1}^{t-1})) / α_l      for l = L-1, ..., 0

so the backward pass rebuilds every earlier state from the last one and recomputes each F_l
locally: nothing of the T steps is stored but the input, the first and the last states
(:class:`_TemporalReverse`, a custom autograd function). Activation memory is O(L) instead of
O(L T) for backpropagation through time; the price is one extra forward per step. F_l must be
deterministic and free of side effects (no dropout, no batch-norm statistics updates), since it
runs again in the backward pass. |α_l| is kept >= 1e-3 (as the authors' code does) so the inverse
stays finite.

Numerics: each inverse step divides by α_l, so a rounding error of the forward pass grows by
1/|α_l| per step rebuilt. With the code's α = 0.5 and float32, gradients drift by ~1e-3 after
16 steps and are meaningless after 32 (float64: ~1e-9 after 32), and a drifted potential near a
threshold flips a spike. ``max_error_growth`` G bounds that growth: every
K = ⌊log G / log(1 / min|α_l|)⌋ steps the exact states are kept (L tensors per K steps; K = 6 for
α = 0.5 and the default G = 64) and the inverse restarts from them. With all |α_l| >= 1, or
``max_error_growth=None`` (the pure method, exact only in short windows), nothing but the first
and last states is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .base import MemoryModule
from .surrogate import Rectangle

__all__ = ["RevLevel", "StatelessSpike", "TemporalReversibleBlock"]

ALPHA_MIN = 1e-3


class StatelessSpike(nn.Module):
    """A spiking neuron with its temporal dynamics off: ``Θ(x - 0.5)``, gradient 1 on ``0 < x < 1``."""

    def __init__(self) -> None:
        super().__init__()
        self.surrogate = Rectangle(alpha=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate(x - 0.5)


class RevLevel(nn.Module):
    """A default level F_l for ``[B, C, H, W]`` states: fuse bottom and top, then a spiking residual block.

    ``y = W_b(SN(bottom)) + W_t(SN(top))`` (``W_t`` 1x1, omitted at the top level or when ``top``
    is ``None``), then ``y + W_2 SN(W_1 SN(y))``. ``spike_input=False`` feeds the bottom input
    unthresholded (for level 0 when the input is an analog frame).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        top_channels: int | None = None,
        kernel_size: int = 3,
        spike_input: bool = True,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.spike = StatelessSpike()
        self.spike_input = spike_input
        self.bottom = nn.Conv2d(in_channels, channels, kernel_size, padding=pad)
        self.top = nn.Conv2d(top_channels, channels, 1, bias=False) if top_channels else None
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad)

    def forward(self, bottom: torch.Tensor, top: torch.Tensor | None) -> torch.Tensor:
        y = self.bottom(self.spike(bottom) if self.spike_input else bottom)
        if top is not None and self.top is not None:
            y = y + self.top(self.spike(top))
        return y + self.conv2(self.spike(self.conv1(self.spike(y))))


def _effective_alpha(alpha: torch.Tensor) -> torch.Tensor:
    sign = torch.where(alpha < 0, -1.0, 1.0).to(alpha.dtype)
    return sign * alpha.abs().clamp_min(ALPHA_MIN)


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class TemporalReversibleBlock(MemoryModule):
    """L levels with turn-on neurons interacting reversibly across time (equations in the module docstring).

    ``levels[l](bottom, top)`` is F_l; ``top`` is ``None`` for the top level and at the very
    first step. Multi-step input ``[T, B, ...]``; the output is the top-level potential
    ``c_{L-1}`` per step ``[T, B, ...]``, or only the last one ``[B, ...]`` with
    ``return_sequence=False`` (a classifier readout, as in T-RevSNN). The states persist across
    calls (streaming) until :func:`~spikesight.perception.snn.base.reset_net`.
    ``reversible=False`` runs plain backpropagation through time on the same weights;
    ``max_error_growth`` bounds the growth of rounding errors in the inverse (module docstring).
    """

    def __init__(
        self,
        levels: Sequence[nn.Module],
        alpha_init: float = 0.5,
        reversible: bool = True,
        return_sequence: bool = True,
        max_error_growth: float | None = 64.0,
        step_mode: str = "m",
    ) -> None:
        super().__init__(step_mode)
        if not levels:
            raise ValueError("at least one level is needed")
        if abs(alpha_init) < ALPHA_MIN:
            raise ValueError(f"|alpha_init| must be >= {ALPHA_MIN}")
        self.levels = nn.ModuleList(levels)
        self.alphas = nn.ParameterList([nn.Parameter(torch.tensor(float(alpha_init))) for _ in levels])
        if max_error_growth is not None and max_error_growth <= 1.0:
            raise ValueError(f"max_error_growth must be > 1 or None, got {max_error_growth}")
        self.reversible = reversible
        self.return_sequence = return_sequence
        self.max_error_growth = max_error_growth
        self.register_memory("states", None)

    def step(
        self, x: torch.Tensor, prev: Sequence[torch.Tensor | None], alphas: Sequence[torch.Tensor]
    ) -> list[torch.Tensor]:
        """One time step: the new states of every level from the input and the previous states."""
        new: list[torch.Tensor] = []
        for l, level in enumerate(self.levels):
            bottom = x if l == 0 else new[l - 1]
            top = prev[l + 1] if l + 1 < len(prev) else None
            y = level(bottom, top)
            if prev[l] is not None:
                y = y + alphas[l] * prev[l]
            new.append(y)
        return new

    def effective_alphas(self) -> list[torch.Tensor]:
        """The leak factors used in :meth:`step`: ``α_l`` with ``|α_l|`` kept >= 1e-3."""
        return [_effective_alpha(a) for a in self.alphas]

    def exact_state_interval(self, alphas: Sequence[torch.Tensor]) -> int | None:
        """Steps between kept exact states in the reversible backward (``None``: keep none)."""
        if self.max_error_growth is None:
            return None
        smallest = min(float(a.detach().abs()) for a in alphas)
        if smallest >= 1.0:
            return None
        return max(1, int(math.log(self.max_error_growth) / -math.log(smallest)))

    def _prev(self) -> list[torch.Tensor | None]:
        return [None] * len(self.levels) if self.states is None else list(self.states)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.states = self.step(x, self._prev(), self.effective_alphas())
        return self.states[-1]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        prev = self._prev()
        params = _unique_parameters(self.levels)
        tensors = [*([] if self.states is None else prev), *self.alphas, *params]
        if self.reversible and torch.is_grad_enabled() and any(t.requires_grad for t in [x_seq, *tensors]):
            n_init = 0 if self.states is None else len(prev)
            y, *states = _TemporalReverse.apply(self, self.return_sequence, n_init, x_seq, *tensors)
            self.states = states
            return y
        alphas = self.effective_alphas()
        outputs = []
        for x in x_seq:
            prev = self.step(x, prev, alphas)
            if self.return_sequence:
                outputs.append(prev[-1])
        self.states = prev
        return torch.stack(outputs) if self.return_sequence else prev[-1]

    def extra_repr(self) -> str:
        return f"levels={len(self.levels)}, reversible={self.reversible}, {super().extra_repr()}"


def _unique_parameters(module: nn.Module) -> list[nn.Parameter]:
    return list({id(p): p for p in module.parameters()}.values())


class _TemporalReverse(torch.autograd.Function):
    """Forward over T steps without a graph; backward rebuilds each step's states from the next ones."""

    @staticmethod
    def forward(ctx, block: TemporalReversibleBlock, return_sequence: bool, n_init: int, x_seq, *tensors):
        n_levels = len(block.levels)
        init = list(tensors[:n_init])
        alpha_raw = tensors[n_init : n_init + n_levels]
        alphas = [_effective_alpha(a) for a in alpha_raw]
        interval = block.exact_state_interval(alphas)
        states: list[torch.Tensor | None] = init if n_init else [None] * n_levels
        outputs = []
        kept_steps, kept = [], []
        for t, x in enumerate(x_seq):
            if interval and t > 0 and t % interval == 0:
                kept_steps.append(t)
                kept.extend(states)
            states = block.step(x, states, alphas)
            if return_sequence:
                outputs.append(states[-1])
        y = torch.stack(outputs) if return_sequence else states[-1].clone()
        ctx.block = block
        ctx.return_sequence = return_sequence
        ctx.n_init = n_init
        ctx.kept_steps = kept_steps
        ctx.save_for_backward(x_seq, *states, *init, *alpha_raw, *kept)
        return (y, *states)

    @staticmethod
    def backward(ctx, grad_y, *grad_states):
        block: TemporalReversibleBlock = ctx.block
        n_levels = len(block.levels)
        saved = ctx.saved_tensors
        x_seq = saved[0]
        states = list(saved[1 : 1 + n_levels])
        init = list(saved[1 + n_levels : 1 + n_levels + ctx.n_init])
        first_alpha = 1 + n_levels + ctx.n_init
        alpha_raw = [a.detach().requires_grad_() for a in saved[first_alpha : first_alpha + n_levels]]
        kept_flat = saved[first_alpha + n_levels :]
        kept = {t: list(kept_flat[i * n_levels : (i + 1) * n_levels]) for i, t in enumerate(ctx.kept_steps)}
        with torch.enable_grad():
            alpha_eff = [_effective_alpha(a) for a in alpha_raw]
        alphas = [a.detach() for a in alpha_eff]
        params = _unique_parameters(block.levels)
        index = {id(p): i for i, p in enumerate(params)}
        level_params = [[p for p in _unique_parameters(level) if p.requires_grad] for level in block.levels]
        g_params: list[torch.Tensor | None] = [None] * len(params)
        g_alpha: list[torch.Tensor | None] = [None] * n_levels
        need_x = ctx.needs_input_grad[3]
        g_x = torch.zeros_like(x_seq) if need_x else None

        g_new = [torch.zeros_like(s) if g is None else g for g, s in zip(grad_states, states, strict=True)]
        n_steps = x_seq.shape[0]
        for t in range(n_steps - 1, -1, -1):
            if grad_y is not None:
                g_top = grad_y[t] if ctx.return_sequence else (grad_y if t == n_steps - 1 else None)
                g_new[-1] = _add(g_new[-1], g_top)
            has_prev = t > 0 or ctx.n_init > 0
            prev: list[torch.Tensor | None] = [None] * n_levels
            g_prev: list[torch.Tensor | None] = [None] * n_levels
            for l in range(n_levels - 1, -1, -1):
                bottom = (x_seq[t] if l == 0 else states[l - 1]).detach()
                needs_bottom = l > 0 or need_x
                if needs_bottom:
                    bottom.requires_grad_()
                top = prev[l + 1] if l + 1 < n_levels else None
                if top is not None:
                    top = top.detach().requires_grad_()
                with torch.enable_grad():
                    out = block.levels[l](bottom, top)
                inputs = [
                    *([bottom] if needs_bottom else []),
                    *([top] if top is not None else []),
                    *level_params[l],
                ]
                grads = torch.autograd.grad(out, inputs, g_new[l], allow_unused=True) if inputs else ()
                pos = 0
                if needs_bottom:
                    if l > 0:
                        g_new[l - 1] = _add(g_new[l - 1], grads[0])
                    elif grads[0] is not None:
                        g_x[t] = grads[0]
                    pos = 1
                if top is not None:
                    g_prev[l + 1] = _add(g_prev[l + 1], grads[pos])
                    pos += 1
                for p, g in zip(level_params[l], grads[pos:], strict=True):
                    g_params[index[id(p)]] = _add(g_params[index[id(p)]], g)
                if has_prev:
                    if t == 0:
                        prev[l] = init[l]
                    elif t in kept:
                        prev[l] = kept[t][l]
                    else:
                        prev[l] = (states[l] - out.detach()) / alphas[l]
                    g_prev[l] = _add(g_prev[l], alphas[l] * g_new[l])
                    g_alpha[l] = _add(g_alpha[l], (g_new[l] * prev[l]).sum())
            states = prev
            g_new = g_prev

        g_alpha_raw = [
            torch.autograd.grad(e, r, g)[0] if g is not None else None
            for e, r, g in zip(alpha_eff, alpha_raw, g_alpha, strict=True)
        ]
        g_init = g_new if ctx.n_init else []
        return (None, None, None, g_x, *g_init, *g_alpha_raw, *g_params)
