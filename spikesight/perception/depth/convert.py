"""Metric depth <-> normalised log depth, the encoding the network predicts (MVSEC/E2Depth convention).

``D_log = clip(1 + ln(D / D_max) / alpha, 0, 1)`` and its inverse ``D = D_max exp(alpha (D_log - 1))``
(E2Depth: D_max = 80 m, alpha = 3.7; the representable range is ``[D_max e^-alpha, D_max]``).
Both work on numpy arrays and torch tensors. NaN (no ground truth) stays NaN; depths at or below
zero map to 0 and depths beyond ``D_max`` to 1, without warnings.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def depth_to_log(depth: Array, max_depth: float = 80.0, alpha: float = 3.7) -> Array:
    """Metric depth (metres) -> normalised log depth in [0, 1]; NaN stays NaN."""
    if isinstance(depth, torch.Tensor):
        d = depth if depth.is_floating_point() else depth.double()
        return torch.clamp(1.0 + torch.log(d.clamp(min=0.0) / max_depth) / alpha, 0.0, 1.0)
    d = np.asarray(depth)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 + np.log(np.maximum(d, 0.0) / max_depth) / alpha
    return np.clip(out, 0.0, 1.0).astype(d.dtype, copy=False)


def log_to_depth(log_depth: Array, max_depth: float = 80.0, alpha: float = 3.7) -> Array:
    """Normalised log depth (clipped to [0, 1]) -> metric depth in ``[max_depth e^-alpha, max_depth]``."""
    if isinstance(log_depth, torch.Tensor):
        x = log_depth if log_depth.is_floating_point() else log_depth.double()
        return max_depth * torch.exp(alpha * (torch.clamp(x, 0.0, 1.0) - 1.0))
    x = np.asarray(log_depth)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return (max_depth * np.exp(alpha * (np.clip(x, 0.0, 1.0) - 1.0))).astype(x.dtype, copy=False)
