"""Spike-driven self-attention (SDSA): attention with masks and additions only, linear in tokens.

Yao et al., "Spike-driven Transformer", NeurIPS 2023 (arXiv 2307.01694). With binary spike
matrices Q, K, V in {0, 1}^{N x D} (N tokens, D channels), each produced from the input spikes S
by a linear map, batch norm and a spiking neuron (``Q = SN(BN(S W_Q))``, likewise K and V)::

    SDSA(Q, K, V) = g(Q, K) ⊗ V = SN(SUM_c(Q ⊗ K)) ⊗ V

⊗ is the Hadamard product: on binary operands it is a mask (logical AND). SUM_c sums each column
over the N tokens, giving one D-vector per step; the spiking neuron (threshold 0.5 in the paper's
code) turns it into a binary channel mask that selects channels of V. Every step costs O(N D)
masks and additions, against O(N^2 D) multiply-accumulates for ``softmax(Q K^T) V``. The paper
notes that the roles of Q, K, V can be exchanged; the authors' code (BICLab/Spike-Driven-Transformer
``module/ms_conv.py``) computes ``SN(SUM_c(K ⊗ V)) ⊗ Q``; this module follows the formula above.

The output goes through a linear map and batch norm, to be added to the block's membrane shortcut
by the caller (the paper's "membrane shortcut" residual, ``U' = SDSA(...) + U``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import StepModule
from .neurons import LIF

__all__ = ["SpikeDrivenSelfAttention", "spike_driven_attention"]


def spike_driven_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, neuron: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``neuron(SUM_c(q ⊗ k)) ⊗ v`` for binary ``[..., N, D]`` tensors (tokens on dim -2).

    In multi-step use the leading dimension is T and ``neuron`` is a multi-step spiking neuron,
    which sees ``[T, ..., 1, D]``.
    """
    return neuron((q * k).sum(dim=-2, keepdim=True)) * v


def _default_neuron(v_threshold: float, step_mode: str) -> nn.Module:
    return LIF(tau=2.0, v_threshold=v_threshold, detach_reset=True, step_mode=step_mode)


class SpikeDrivenSelfAttention(StepModule):
    """SDSA with its Q, K, V projections and output projection.

    Input: spikes ``[T, B, N, D]`` (tokens) or ``[T, B, D, H, W]`` (a feature map; N = H W), or the
    same without ``T`` in single-step mode. Output: the real-valued attention output, same shape.
    ``make_neuron(v_threshold, step_mode)`` builds each spiking neuron (default: LIF, tau 2,
    threshold 1 for Q, K, V and 0.5 for the attention mask, as in the paper's code).
    """

    def __init__(
        self,
        dim: int,
        attn_threshold: float = 0.5,
        make_neuron: Callable[[float, str], nn.Module] = _default_neuron,
        step_mode: str = "m",
    ) -> None:
        super().__init__(step_mode)
        self.dim = dim
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.q_bn, self.k_bn, self.v_bn = (nn.BatchNorm1d(dim) for _ in range(3))
        self.q_sn, self.k_sn, self.v_sn = (make_neuron(1.0, step_mode) for _ in range(3))
        self.attn_sn = make_neuron(attn_threshold, step_mode)
        self.out_proj = nn.Linear(dim, dim)
        self.out_bn = nn.BatchNorm1d(dim)

    @staticmethod
    def _linear_bn(linear: nn.Linear, bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        y = linear(x)
        return bn(y.reshape(-1, y.shape[-1])).reshape(y.shape)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        token_dims = 4 if self.step_mode == "m" else 3
        feature_map = s.dim() == token_dims + 1
        if feature_map:
            shape = s.shape
            s = s.flatten(-2).transpose(-1, -2)
        elif s.dim() != token_dims:
            raise ValueError(
                f"expected {token_dims}-D tokens or a {token_dims + 1}-D feature map, got {s.dim()}-D"
            )
        q = self.q_sn(self._linear_bn(self.q_proj, self.q_bn, s))
        k = self.k_sn(self._linear_bn(self.k_proj, self.k_bn, s))
        v = self.v_sn(self._linear_bn(self.v_proj, self.v_bn, s))
        y = self._linear_bn(self.out_proj, self.out_bn, spike_driven_attention(q, k, v, self.attn_sn))
        if feature_map:
            y = y.transpose(-1, -2).reshape(shape)
        return y

    def extra_repr(self) -> str:
        return f"dim={self.dim}, {super().extra_repr()}"
