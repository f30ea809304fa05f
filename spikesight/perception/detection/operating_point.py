"""Precision, recall and F1 of a detector against its confidence threshold, and the threshold to ship.

mAP ranks detections and needs no threshold; a viewer does: it draws the boxes scoring at least
``conf``. Like Ultralytics' F1-confidence curve, the display threshold is chosen on validation data
as the one that maximises F1 averaged over the classes that have ground truth.

Matching (per image and class, at IoU ``iou``): detections in descending score order each take the
unmatched ground-truth box of their class they overlap most, if that IoU is at least ``iou`` (a
true positive); otherwise they are false positives. A detection stays a true positive at every
threshold at or below its score, so one matching serves all thresholds:
``precision(c) = TP(c) / (TP(c) + FP(c))``, ``recall(c) = TP(c) / n_gt``, F1 their harmonic mean
(0 where precision and recall are both 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import GroundTruth, Prediction, unpack_prediction
from .postprocess import box_iou

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""Confidence thresholds tried: 0.05, 0.10, ..., 0.95."""


@dataclass(frozen=True)
class OperatingCurve:
    """``precision``, ``recall``, ``f1``: ``[len(thresholds), num_classes]``; ``ground_truth``: boxes
    per class."""

    thresholds: tuple[float, ...]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    ground_truth: tuple[int, ...]

    @property
    def mean_f1(self) -> np.ndarray:
        """F1 averaged over the classes with ground truth, per threshold."""
        has = np.asarray(self.ground_truth) > 0
        return self.f1[:, has].mean(1) if has.any() else np.zeros(len(self.thresholds))

    def best(self) -> float:
        """The threshold of the highest mean F1 (the lowest such threshold on a tie)."""
        return float(self.thresholds[int(np.argmax(self.mean_f1))])

    def as_dict(self, class_names: Sequence[str] = ()) -> dict:
        names = list(class_names) or [str(k) for k in range(self.f1.shape[1])]
        k = int(np.argmax(self.mean_f1))
        return {
            "conf": self.best(),
            "mean_f1": float(self.mean_f1[k]),
            "per_class": {n: {"precision": float(self.precision[k, c]), "recall": float(self.recall[k, c]),
                              "f1": float(self.f1[k, c]), "ground_truth": int(self.ground_truth[c])}
                          for c, n in enumerate(names)},
            "thresholds": list(self.thresholds),
            "mean_f1_curve": [float(v) for v in self.mean_f1],
        }


def _match(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou: float) -> np.ndarray:
    """Which detections (one image, one class) are true positives."""
    order = np.argsort(-scores, kind="stable")
    free = np.ones(len(truth), dtype=bool)
    hit = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if not free.any():
            break
        overlaps = np.where(free, box_iou(boxes[i], truth), -1.0)
        j = int(np.argmax(overlaps))
        if overlaps[j] >= iou:
            free[j] = False
            hit[i] = True
    return hit


def operating_curve(predictions: Sequence[Prediction], ground_truths: Sequence[GroundTruth], num_classes: int,
                    iou: float = 0.5, thresholds: Sequence[float] = THRESHOLDS) -> OperatingCurve:
    """Precision, recall and F1 per class at each threshold (see the module docstring)."""
    if len(predictions) != len(ground_truths):
        raise ValueError(f"{len(predictions)} prediction lists for {len(ground_truths)} images")
    th = np.asarray(thresholds, dtype=np.float64)
    tp = np.zeros((len(th), num_classes))
    fp = np.zeros((len(th), num_classes))
    n_gt = np.zeros(num_classes, dtype=np.int64)
    for pred, (g_boxes, g_labels) in zip(predictions, ground_truths, strict=True):
        boxes, scores, labels = unpack_prediction(pred)
        g_boxes = np.asarray(g_boxes, dtype=np.float64).reshape(-1, 4)
        g_labels = np.asarray(g_labels, dtype=np.int64).reshape(-1)
        for c in range(num_classes):
            truth = g_boxes[g_labels == c]
            n_gt[c] += len(truth)
            mine = labels == c
            hit = _match(boxes[mine], scores[mine], truth, iou)
            above = scores[mine][None, :] >= th[:, None]
            tp[:, c] += (above & hit).sum(1)
            fp[:, c] += (above & ~hit).sum(1)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = np.divide(tp, n_gt, out=np.zeros_like(tp), where=n_gt > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return OperatingCurve(tuple(float(t) for t in th), precision, recall, f1, tuple(int(n) for n in n_gt))
