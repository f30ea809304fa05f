"""COCO detection metrics (mAP@50, mAP@50:95 and AP per class) through faster-coco-eval.

The Gen1 and 1 Mpx papers (and SpikeYOLO, RVT after them) report COCO's metrics on the filtered
boxes: average precision over the 101 recall points, at IoU 0.5 and averaged over IoU 0.50,
0.55, ..., 0.95, at most 100 detections per image, all box sizes. faster-coco-eval reimplements
pycocotools's evaluation (same numbers, faster); it is imported only in this module.

Inputs are per image: predictions as :class:`~spikesight.perception.results.Detections` or
``(boxes, scores, labels)``, ground truths as ``(boxes, labels)``; boxes ``x0, y0, x1, y1`` in any
one pixel frame, labels ``0 .. K-1``. Images without ground truth still count (their detections
are false positives). A class without any ground truth has no AP (NaN) and is left out of the
means, as in COCO; with no ground truth at all every metric is NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import Detections

log = logging.getLogger(__name__)

Prediction = Detections | tuple[Any, Any, Any]
GroundTruth = tuple[Any, Any]


@dataclass(frozen=True)
class DetectionMetrics:
    """mAP at IoU 0.5 and over 0.50:0.95, and each class's AP at both (NaN: no ground truth)."""

    map50: float
    map50_95: float
    ap50: tuple[float, ...]
    ap50_95: tuple[float, ...]

    def as_dict(self, class_names: Sequence[str] = ()) -> dict[str, float]:
        """``map50``, ``map50_95`` and ``ap50_<class>`` / ``ap50_95_<class>`` per class (by name)."""
        names = list(class_names) or [str(k) for k in range(len(self.ap50))]
        out = {"map50": self.map50, "map50_95": self.map50_95}
        out.update({f"ap50_{n}": v for n, v in zip(names, self.ap50, strict=True)})
        out.update({f"ap50_95_{n}": v for n, v in zip(names, self.ap50_95, strict=True)})
        return out


def _xywh(boxes: Any) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack((b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1)


def unpack_prediction(pred: Prediction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(boxes [N, 4] x0 y0 x1 y1, scores [N], labels [N])`` of one image's predictions, checked."""
    if isinstance(pred, Detections):
        boxes, scores, labels = pred.boxes, pred.scores, pred.labels
    else:
        boxes, scores, labels = pred
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores and {len(labels)} labels: not one each")
    return boxes, scores, labels


def coco_map(
    predictions: Sequence[Prediction], ground_truths: Sequence[GroundTruth], num_classes: int
) -> DetectionMetrics:
    """COCO's mAP@50 and mAP@50:95 over images (see the module docstring)."""
    from faster_coco_eval import COCO, COCOeval_faster

    if len(predictions) != len(ground_truths):
        raise ValueError(f"{len(predictions)} prediction lists for {len(ground_truths)} images")
    images, gts, dts = [], [], []
    for i, (pred, truth) in enumerate(zip(predictions, ground_truths, strict=True), start=1):
        images.append({"id": i, "width": 0, "height": 0})
        g_boxes, g_labels = _xywh(truth[0]), np.asarray(truth[1], dtype=np.int64).reshape(-1)
        if len(g_boxes) != len(g_labels):
            raise ValueError(f"image {i - 1}: {len(g_boxes)} ground-truth boxes but {len(g_labels)} labels")
        for box, label in zip(g_boxes, g_labels, strict=True):
            _check_label(label, num_classes)
            gts.append({"id": len(gts) + 1, "image_id": i, "category_id": int(label) + 1,
                        "bbox": box.tolist(), "area": float(box[2] * box[3]), "iscrowd": 0})
        p_boxes, p_scores, p_labels = unpack_prediction(pred)
        for box, score, label in zip(_xywh(p_boxes), p_scores, p_labels, strict=True):
            _check_label(label, num_classes)
            dts.append({"image_id": i, "category_id": int(label) + 1, "bbox": box.tolist(),
                        "score": float(score)})
    nan = float("nan")
    if not gts:
        return DetectionMetrics(nan, nan, (nan,) * num_classes, (nan,) * num_classes)
    categories = [{"id": k + 1, "name": str(k)} for k in range(num_classes)]
    coco_gt = COCO({"images": images, "annotations": gts, "categories": categories}, print_function=log.debug)
    coco_dt = coco_gt.loadRes(dts)
    evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=log.debug)
    evaluator.evaluate()
    evaluator.accumulate()
    # precision [IoU thresholds, recall points, classes, area ranges, max detections]; -1: no ground truth
    precision = np.asarray(evaluator.eval["precision"])[:, :, :, 0, -1]
    per_iou_class = np.where((precision > -1).all(1), np.clip(precision, 0, None).mean(1), np.nan)  # [T, K]
    ap50 = per_iou_class[0]
    ap50_95 = per_iou_class.mean(0)
    valid = ~np.isnan(ap50)
    return DetectionMetrics(
        float(ap50[valid].mean()),
        float(ap50_95[valid].mean()),
        tuple(float(v) for v in ap50),
        tuple(float(v) for v in ap50_95),
    )


def _check_label(label: int, num_classes: int) -> None:
    if not 0 <= label < num_classes:
        raise ValueError(f"label {label} is not a class of 0 .. {num_classes - 1}")

