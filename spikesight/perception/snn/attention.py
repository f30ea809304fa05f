"""Attention for spiking layers: temporal-wise (TA-SNN), multi-dimensional (MA-SNN) and advance spatial (ASA).

All modules take multi-step tensors ``[T, B, C, ...]`` (the layout of this package).

**Temporal-wise attention** (Yao et al., "Temporal-wise Attention Spiking Neural Networks for Event
Streams Classification", ICCV 2021, Eqs. 5-8; the avg + max squeeze of MA-SNN's Eq. 9). Each time
step of the layer input X is squeezed over (C, H, W) and excited by a bias-free two-layer MLP
shared by both squeezes (W_1 in R^{(T/r) x T}, W_2 in R^{T x (T/r)}, δ = ReLU)::

    d = σ(W_2 δ(W_1 AvgPool(X)) + W_2 δ(W_1 MaxPool(X)))   in R^T,    X~[t] = d_t X[t]

At inference the paper's IAP ("input-attention pruning") binarises the weights,
``d_t = Θ(σ(.)_t - d_th)``: a step under the threshold is discarded, a kept one passes unscaled.
:class:`SkipSteps` runs the next layer only on the kept steps, so a dropped step costs no MAC.
TA-SNN's own code squeezes by the mean only and has no IAP code (issue BICLab/TA-SNN#1);
``use_max=False`` gives the mean-only squeeze of the paper's Eq. 6.

**Multi-dimensional attention** (Yao et al., "Attention Spiking Neural Networks", TPAMI 2023,
arXiv 2209.13929, Eqs. 9-14). Temporal attention g_t (above) reweights the input current at
"Conv-POST"; channel attention g_c (CBAM, Eqs. 10-11) and spatial attention g_s (Eqs. 12-13)
reweight the *membrane potential* each step before firing ("Activate-PRE")::

    g_c(U) = σ(W_1 δ(W_0 AvgPool_hw(U)) + W_1 δ(W_0 MaxPool_hw(U)))       in R^{c x 1 x 1}
    g_s(U) = σ(f^{k x k}([AvgPool_c(U); MaxPool_c(U)]))                    in R^{1 x h x w}
    TCSA (Eq. 14), in sequence and multiplicative:
        X^TA = g_t(X) ⊙ X
        U^CA = g_c(H[t-1] + X^TA[t]) ⊙ (H[t-1] + X^TA[t])
        U[t] = g_s(U^CA) ⊙ U^CA,    S[t] = Θ(U[t] - u_th),    H[t] = decay(U[t], S[t])

:class:`AttentionLIF` is the LIF neuron of :mod:`.neurons` with those attentions inserted between
charge and fire; any subset of T, C, S (TA, CA, SA, TCA, TSA, CSA, TCSA) can be switched on.
The paper's k = 7; the authors' code (BICLab/Attention-SNN) uses 3 and applies every block on the
conv output instead.

**Advance spatial attention** (Yao et al., "Inherent Redundancy in Spiking Neural Networks",
ICCV 2023, arXiv 2308.08227): a pair of spatial attention sub-modules reshapes the membrane
potential input so that noise spikes are suppressed. The (T, C) slices are split into an
"important" and a "sub-important" group by a temporal-channel importance map; each group gets its
own spatial attention map. The paper's text was not reachable; the equations below are those of
the authors' code (BICLab/ASA-SNN ``models/module/Attn.py``, read for the facts only)::

    M   = FC_T(0.5 (A + X_max) + α A + β X_max)     A, X_max: avg / max over (h, w) -> [T, C]
    I_c = top-⌊λC⌋ channels of M per step,   I_t = top-⌊λT⌋ steps of M per channel
    I   = I_c XOR I_t   (the code keeps a (t, c) slice chosen by exactly one of the two rules)
    X_i = I ⊙ X,  X_s = (1 - I) ⊙ X
    Y   = σ(f_1([mean_tc(X_i)/λ; max_tc(X_i)])) ⊙ X_i + σ(f_2([mean_tc(X_s)/(1-λ); max_tc(X_s)])) ⊙ X_s

f_1, f_2 are bias-free 3 x 3 convs from 2 maps to 1, λ = 0.5, α = β = 0.5 learnable. The top-k
selection carries no gradient, so FC_T, α and β keep their initial values in training (as in
the released code).
"""

from __future__ import annotations

import torch
from torch import nn

from .neurons import LIF

__all__ = [
    "AdvanceSpatialAttention",
    "AttentionLIF",
    "ChannelAttention",
    "SkipSteps",
    "SpatialAttention",
    "TemporalAttention",
]


def _expand_like(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A ``[T, B]`` weight viewed as ``[T, B, 1, ...]`` to broadcast over ``x``."""
    return w.view(*w.shape, *([1] * (x.dim() - w.dim())))


class TemporalAttention(nn.Module):
    """TA-SNN temporal-wise attention over ``[T, B, ...]``; ``d_th`` turns on frame dropping in eval mode.

    ``T`` is fixed at construction (the excitation MLP maps ``T -> T // reduction -> T``).
    """

    def __init__(self, T: int, reduction: int = 4, d_th: float | None = None, use_max: bool = True) -> None:
        super().__init__()
        if T < 1 or reduction < 1:
            raise ValueError(f"T and reduction must be >= 1, got T={T}, reduction={reduction}")
        if d_th is not None and not 0.0 <= d_th <= 1.0:
            raise ValueError(f"d_th must be in [0, 1], got {d_th}")
        self.T = T
        self.d_th = d_th
        self.use_max = use_max
        hidden = max(1, T // reduction)
        self.excitation = nn.Sequential(
            nn.Linear(T, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, T, bias=False)
        )

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights ``σ(.)`` per step and sample, ``[T, B]``."""
        if x.dim() < 3 or x.shape[0] != self.T:
            raise ValueError(f"expected [T={self.T}, B, C, ...], got shape {tuple(x.shape)}")
        flat = x.flatten(2)
        z = self.excitation(flat.mean(2).transpose(0, 1))
        if self.use_max:
            z = z + self.excitation(flat.amax(2).transpose(0, 1))
        return torch.sigmoid(z).transpose(0, 1)

    @property
    def dropping(self) -> bool:
        """True when steps are dropped (eval mode with a threshold)."""
        return self.d_th is not None and not self.training

    def keep_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean ``[T, B]``: the steps kept at inference (``σ(.) >= d_th``; all when no threshold)."""
        if self.d_th is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return self.weights(x) >= self.d_th

    def forward(
        self, x: torch.Tensor, return_mask: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``d ⊙ x``; when dropping, ``d`` is the binary keep mask. ``return_mask`` also returns the mask."""
        w = self.weights(x)
        if self.dropping:
            keep = w >= self.d_th
            w = keep.to(x.dtype)
        else:
            keep = torch.ones_like(w, dtype=torch.bool)
        y = x * _expand_like(w, x)
        return (y, keep) if return_mask else y

    def extra_repr(self) -> str:
        return f"T={self.T}, d_th={self.d_th}, use_max={self.use_max}"


class SkipSteps(nn.Module):
    """Run a per-frame layer only on the kept ``(t, b)`` frames; dropped frames give zeros.

    ``forward(x, keep)`` with ``x`` of shape ``[T, B, ...]`` and ``keep`` a boolean ``[T, B]``
    gathers the kept frames into one batch ``[K, ...]``, calls ``layer`` once on it and scatters
    the result back: the output equals ``keep ⊙ layer(x)`` and a dropped frame costs nothing.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        if keep.shape != x.shape[:2] or keep.dtype != torch.bool:
            raise ValueError(f"keep must be a bool tensor of shape {tuple(x.shape[:2])}")
        out = self.layer(x[keep])
        y = out.new_zeros((*x.shape[:2], *out.shape[1:]))
        y[keep] = out
        return y


class ChannelAttention(nn.Module):
    """Channel attention (CBAM): weights ``σ(MLP(avg) + MLP(max))``, ``[N, C, ...] -> [N, C, 1, ...]``."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, channels, bias=False)
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        flat = u.flatten(2) if u.dim() > 2 else u.unsqueeze(-1)
        z = self.mlp(flat.mean(2)) + self.mlp(flat.amax(2))
        return torch.sigmoid(z).view(*u.shape[:2], *([1] * (u.dim() - 2)))


class SpatialAttention(nn.Module):
    """Spatial attention (CBAM): weights ``σ(conv([mean_c; max_c]))``, ``[N, C, H, W] -> [N, 1, H, W]``."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if u.dim() != 4:
            raise ValueError(f"spatial attention needs [N, C, H, W], got shape {tuple(u.shape)}")
        pooled = torch.cat([u.mean(1, keepdim=True), u.amax(1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))


def _parse_attention(attention: str) -> str:
    letters = attention.upper()
    if letters.endswith("A"):
        letters = letters[:-1]
    if not letters or set(letters) - set("TCS") or len(set(letters)) != len(letters):
        raise ValueError(
            f"attention must be a combination of T, C, S such as 'TCSA' or 'CA', got {attention!r}"
        )
    return "".join(d for d in "TCS" if d in letters)


class AttentionLIF(LIF):
    """MA-SNN LIF: temporal attention on the input current, channel/spatial attention on the membrane.

    ``attention`` names the combination (``"TCSA"``, ``"TCA"``, ``"CSA"``, ``"TA"``...). ``T`` is
    needed for temporal attention (multi-step only); ``channels`` for channel attention. The other
    keyword arguments go to :class:`~spikesight.perception.snn.neurons.LIF`; the MA-SNN update
    ``U[t] = β H[t-1] + X[t]`` is ``LIF(decay_input=False)`` with ``β = 1 - 1/tau``.
    """

    def __init__(
        self,
        attention: str = "TCSA",
        channels: int | None = None,
        T: int | None = None,
        reduction_t: int = 4,
        reduction_c: int = 4,
        kernel_size: int = 7,
        d_th: float | None = None,
        **lif_kwargs,
    ) -> None:
        super().__init__(**lif_kwargs)
        self.attention = _parse_attention(attention)
        if "T" in self.attention and T is None:
            raise ValueError("temporal attention needs T")
        if "C" in self.attention and channels is None:
            raise ValueError("channel attention needs channels")
        self.ta = TemporalAttention(T, reduction_t, d_th) if "T" in self.attention else None
        self.ca = ChannelAttention(channels, reduction_c) if "C" in self.attention else None
        self.sa = SpatialAttention(kernel_size) if "S" in self.attention else None

    def attend(self, u: torch.Tensor) -> torch.Tensor:
        """Channel then spatial attention on one step of membrane potential ``[B, C, ...]``."""
        if self.ca is not None:
            u = self.ca(u) * u
        if self.sa is not None:
            u = self.sa(u) * u
        return u

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ta is not None and self.step_mode == "s":
            raise RuntimeError("temporal attention needs the whole window: use step_mode='m'")
        h = self.attend(self.neuronal_charge(x, self._check_state("v", x)))
        spike = self.neuronal_fire(h)
        self.v = self.neuronal_reset(h, spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.ta is not None:
            x_seq = self.ta(x_seq)
        return super().multi_step_forward(x_seq)

    def extra_repr(self) -> str:
        return f"attention={self.attention!r}, {super().extra_repr()}"


class AdvanceSpatialAttention(nn.Module):
    """ASA over ``[T, B, C, H, W]`` (equations in the module docstring); returns the same shape."""

    def __init__(self, T: int, ratio: float = 0.5, reduction: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        if not 0.0 < ratio < 1.0:
            raise ValueError(f"ratio must be in (0, 1), got {ratio}")
        self.T = T
        self.ratio = ratio
        self.alpha = nn.Parameter(torch.tensor(0.5))
        self.beta = nn.Parameter(torch.tensor(0.5))
        if reduction == 1:
            self.fc: nn.Module = nn.Linear(T, T, bias=False)
        else:
            hidden = max(1, T // reduction)
            self.fc = nn.Sequential(
                nn.Linear(T, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, T, bias=False)
            )
        pad = kernel_size // 2
        self.conv_important = nn.Conv2d(2, 1, kernel_size, padding=pad, bias=False)
        self.conv_sub = nn.Conv2d(2, 1, kernel_size, padding=pad, bias=False)

    def importance(self, x: torch.Tensor) -> torch.Tensor:
        """The temporal-channel map ``M`` as ``[T, B, C]``."""
        avg = x.mean((3, 4))
        mx = x.amax((3, 4))
        m = 0.5 * (avg + mx) + self.alpha * avg + self.beta * mx
        return self.fc(m.permute(1, 2, 0)).permute(2, 0, 1)

    def important_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean ``[T, B, C]``: the (t, c) slices of the important group."""
        m = self.importance(x).detach()
        t, _, c = m.shape
        by_channel = torch.zeros_like(m, dtype=torch.bool)
        by_channel.scatter_(2, m.topk(int(c * self.ratio), dim=2).indices, True)
        by_time = torch.zeros_like(m, dtype=torch.bool)
        by_time.scatter_(0, m.topk(int(t * self.ratio), dim=0).indices, True)
        return by_channel ^ by_time

    @staticmethod
    def _pool(x: torch.Tensor, scale: float) -> torch.Tensor:
        """``[mean_tc / scale; max_tc]`` of ``[T, B, C, H, W]`` as ``[B, 2, H, W]``."""
        return torch.stack([x.mean((0, 2)) / scale, x.amax((0, 2))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[0] != self.T:
            raise ValueError(f"expected [T={self.T}, B, C, H, W], got shape {tuple(x.shape)}")
        mask = self.important_mask(x)[..., None, None].to(x.dtype)
        important = mask * x
        sub = (1.0 - mask) * x
        w_important = torch.sigmoid(self.conv_important(self._pool(important, self.ratio)))
        w_sub = torch.sigmoid(self.conv_sub(self._pool(sub, 1.0 - self.ratio)))
        return w_important.unsqueeze(0) * important + w_sub.unsqueeze(0) * sub

    def extra_repr(self) -> str:
        return f"T={self.T}, ratio={self.ratio}"
