"""Training loss for normalised log depth: scale-invariant loss plus multi-scale gradient matching.

With the residual ``R = pred - target`` (both normalised log depth, :mod:`.convert`) over the ``n``
valid pixels of one sample (finite target, and the optional mask)::

    L_si   = (1/n) sum R^2 - (lambda/n^2) (sum R)^2                  (Eigen et al., NIPS 2014, Eq. 4)
    L_grad = sum_{k<K} (1/n_k) sum (|dx R_k| + |dy R_k|)             (Li & Snavely, MegaDepth, CVPR 2018)
    L      = L_si + w L_grad                                         (E2Depth, StereoSpike: w = 0.5, K = 4)

With ``lambda = 1`` (E2Depth's choice) ``L_si`` is blind to a constant offset of the log depth, i.e.
to a global scale of the depth, and nothing in the loss pins the absolute depth; Eigen et al. train
with ``lambda = 0.5``, which keeps the absolute scale learnt (an offset c costs (1 - lambda) c^2):
that is the default here, since the metrics are in metres.

``R_k`` is ``R`` average-pooled over the valid pixels of each ``2^k x 2^k`` block (a block with no
valid pixel is invalid), ``dx``/``dy`` are differences of horizontal/vertical neighbours counted
where both are valid, and ``n_k`` is the number of valid pixels at scale ``k``. ``L_grad`` (and
``L_si`` for lambda = 1) vanishes for a prediction that differs from the target by a constant in
log space (a global scale of the depth). Both are computed per sample, then averaged over the
samples that have valid pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def valid_mask(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Pixels with a finite target (and ``mask`` where given), as a bool tensor shaped like ``target``."""
    valid = torch.isfinite(target)
    return valid if mask is None else valid & mask.to(torch.bool)


def _per_sample_mean(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean of per-sample ``values`` over the samples with ``counts > 0`` (0 when there are none)."""
    has = counts > 0
    if not bool(has.any()):
        return values.sum() * 0.0
    return values[has].mean()


def _residual(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None):
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if pred.dim() < 3:
        raise ValueError(f"expected [B, ..., H, W], got shape {tuple(pred.shape)}")
    valid = valid_mask(target, mask)
    weight = valid.to(pred.dtype)
    residual = torch.where(valid, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    return residual, weight


def scale_invariant_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, lam: float = 1.0
) -> torch.Tensor:
    """``L_si`` with ``lambda = lam`` of each sample (module docstring), averaged over the samples with
    valid pixels."""
    residual, weight = _residual(pred, target, mask)
    dims = tuple(range(1, pred.dim()))
    n = weight.sum(dims)
    safe_n = n.clamp(min=1.0)
    mean = residual.sum(dims) / safe_n
    return _per_sample_mean((residual**2).sum(dims) / safe_n - lam * mean**2, n)


def gradient_matching_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, scales: int = 4
) -> torch.Tensor:
    """``L_grad`` summed over ``scales`` scales (module docstring), averaged over samples."""
    if scales < 1:
        raise ValueError(f"scales must be >= 1, got {scales}")
    residual, weight = _residual(pred, target, mask)
    # Pool [B, C, H, W] maps: fold any extra leading dimensions into the channels.
    residual = residual.flatten(1, -3) if residual.dim() > 3 else residual.unsqueeze(1)
    weight = weight.flatten(1, -3) if weight.dim() > 3 else weight.unsqueeze(1)
    total = residual.new_zeros(residual.shape[0])
    has_any = torch.zeros(residual.shape[0], dtype=torch.bool, device=residual.device)
    for k in range(scales):
        f = 2**k
        if min(residual.shape[-2:]) < f:
            break
        if f > 1:
            w_sum = F.avg_pool2d(weight, f) * (f * f)
            r = F.avg_pool2d(residual * weight, f) * (f * f) / w_sum.clamp(min=1.0)
            w = (w_sum > 0).to(residual.dtype)
        else:
            r, w = residual, weight
        vx = w[..., :, 1:] * w[..., :, :-1]
        vy = w[..., 1:, :] * w[..., :-1, :]
        gx = ((r[..., :, 1:] - r[..., :, :-1]).abs() * vx).sum((1, 2, 3))
        gy = ((r[..., 1:, :] - r[..., :-1, :]).abs() * vy).sum((1, 2, 3))
        n = w.sum((1, 2, 3))
        total = total + (gx + gy) / n.clamp(min=1.0)
        has_any |= n > 0
    return _per_sample_mean(total, has_any.to(total.dtype))


class DepthLoss(nn.Module):
    """``L_si + grad_weight * L_grad`` on normalised log depth (``L_si`` with ``lambda = si_lambda``);
    NaN targets are ignored.

    ``forward(pred, target, mask=None)`` returns ``(loss, parts)`` with ``parts`` the float values
    of ``"si"``, ``"grad"`` and ``"loss"`` for the training log.
    """

    def __init__(self, grad_weight: float = 0.5, scales: int = 4, si_lambda: float = 0.5) -> None:
        super().__init__()
        if grad_weight < 0 or scales < 1 or not 0 <= si_lambda <= 1:
            raise ValueError(
                "need grad_weight >= 0, scales >= 1 and 0 <= si_lambda <= 1; "
                f"got {grad_weight}, {scales}, {si_lambda}"
            )
        self.grad_weight = float(grad_weight)
        self.scales = int(scales)
        self.si_lambda = float(si_lambda)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        si = scale_invariant_loss(pred, target, mask, self.si_lambda)
        grad = gradient_matching_loss(pred, target, mask, self.scales)
        loss = si + self.grad_weight * grad
        return loss, {"si": float(si.detach()), "grad": float(grad.detach()), "loss": float(loss.detach())}

    def extra_repr(self) -> str:
        return f"grad_weight={self.grad_weight}, scales={self.scales}, si_lambda={self.si_lambda}"
