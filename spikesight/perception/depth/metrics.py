"""Depth metrics, per frame then averaged over frames (the E2Depth / MVSEC protocol).

A pixel counts when its ground truth D is finite and within ``[min_depth, max_depth]`` and the
prediction P is finite and positive. Per frame, over those pixels (d = ln P - ln D)::

    mae_<c>   mean |D - P| over the pixels with D <= c     (c = 10, 20, 30 m: the MVSEC headline)
    abs_rel   mean |D - P| / D
    sq_rel    mean (D - P)^2 / D        (divided by D, as Eigen et al. 2014 and KITTI; not by D^2)
    rmse      sqrt(mean (D - P)^2)
    rmse_log  sqrt(mean d^2)
    si_log    mean d^2 - (mean d)^2     (Eigen's scale-invariant error with lambda = 1; E2Depth's form)
    delta<k>  share of pixels with max(D / P, P / D) < 1.25^k,  k = 1, 2, 3

Each metric is the mean of its per-frame values over the frames where it is defined (a frame with
no pixel under a cutoff does not count for that cutoff's MAE). Depths are in metres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

METRIC_NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "si_log", "delta1", "delta2", "delta3")
"""The metrics over all valid pixels; the ``mae_<c>`` names depend on the cutoffs."""


def _as_frames(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """``[H, W]``, ``[N, H, W]`` or ``[N, 1, H, W]`` -> float64 ``[N, H, W]``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        return a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        return a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"expected depth maps [H, W], [N, H, W] or [N, 1, H, W], got shape {a.shape}")
    return a


def cutoff_name(cutoff: float) -> str:
    """``mae_10`` for 10 m (``mae_12.5`` for 12.5 m)."""
    return f"mae_{cutoff:g}"


def frame_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float,
    max_depth: float = 80.0,
    cutoffs: Sequence[float] = (10.0, 20.0, 30.0),
) -> dict[str, float]:
    """The metrics of one frame ``[H, W]`` (module docstring); NaN where a metric has no pixel."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(gt) & (gt >= min_depth) & (gt <= max_depth) & np.isfinite(pred) & (pred > 0)
    d, p = gt[valid], pred[valid]
    out: dict[str, float] = {}
    for c in cutoffs:
        near = d <= c
        out[cutoff_name(c)] = float(np.abs(d[near] - p[near]).mean()) if near.any() else math.nan
    if not d.size:
        out.update(dict.fromkeys(METRIC_NAMES, math.nan))
        return out
    err = d - p
    log_diff = np.log(p) - np.log(d)
    ratio = np.maximum(d / p, p / d)
    out["abs_rel"] = float((np.abs(err) / d).mean())
    out["sq_rel"] = float((err**2 / d).mean())
    out["rmse"] = float(np.sqrt((err**2).mean()))
    out["rmse_log"] = float(np.sqrt((log_diff**2).mean()))
    out["si_log"] = float((log_diff**2).mean() - log_diff.mean() ** 2)
    for k in (1, 2, 3):
        out[f"delta{k}"] = float((ratio < 1.25**k).mean())
    return out


class DepthMetrics:
    """Accumulates :func:`frame_metrics` frame by frame; :meth:`compute` averages over frames.

    ``min_depth`` defaults to the smallest depth the log encoding represents (``80 e^-3.7`` m).
    """

    def __init__(
        self,
        min_depth: float | None = None,
        max_depth: float = 80.0,
        cutoffs: Sequence[float] = (10.0, 20.0, 30.0),
    ) -> None:
        self.max_depth = float(max_depth)
        self.min_depth = float(max_depth * math.exp(-3.7) if min_depth is None else min_depth)
        if not 0 <= self.min_depth < self.max_depth:
            raise ValueError(f"need 0 <= min_depth < max_depth, got {self.min_depth}, {self.max_depth}")
        self.cutoffs = tuple(float(c) for c in cutoffs)
        self.names = tuple(cutoff_name(c) for c in self.cutoffs) + METRIC_NAMES
        self.reset()

    def reset(self) -> None:
        self._sums = dict.fromkeys(self.names, 0.0)
        self._counts = dict.fromkeys(self.names, 0)
        self.frames = 0

    def update(self, pred_m: np.ndarray | torch.Tensor, gt_m: np.ndarray | torch.Tensor) -> None:
        """Add one frame ``[H, W]`` or a batch of frames (``[N, H, W]``, ``[N, 1, H, W]``), metres."""
        preds, gts = _as_frames(pred_m), _as_frames(gt_m)
        if preds.shape != gts.shape:
            raise ValueError(f"prediction {preds.shape} and ground truth {gts.shape} differ in shape")
        for p, g in zip(preds, gts, strict=True):
            for name, value in frame_metrics(p, g, self.min_depth, self.max_depth, self.cutoffs).items():
                if not math.isnan(value):
                    self._sums[name] += value
                    self._counts[name] += 1
            self.frames += 1

    def compute(self) -> dict[str, float]:
        """Mean of each metric over the frames where it was defined (NaN if none), plus ``frames``."""
        out = {
            name: (self._sums[name] / self._counts[name] if self._counts[name] else math.nan)
            for name in self.names
        }
        out["frames"] = float(self.frames)
        return out
