"""From SpikeYOLO's head maps to boxes on the sensor: DFL decoding, confidence filter, class-aware NMS.

YOLOv8's anchor-free decoding (Ultralytics docs; Li et al., "Generalized Focal Loss", NeurIPS
2020, for the distribution focal loss's integral): each cell ``(i, j)`` of the level with stride
``s`` is an anchor point at ``((j + 0.5) s, (i + 0.5) s)``; for each side (left, top, right,
bottom) the head gives ``reg_max`` logits, whose softmax is a distribution over the distances
``0 .. reg_max - 1`` (in cells); the expected distance times ``s`` is the side's distance from
the anchor in pixels. Class scores are sigmoids of the class logits. Each anchor keeps its best
class; anchors under the confidence threshold go; greedy NMS runs within each class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..representations.resize import Resize
from ..results import Detections


def make_anchors(
    shapes: Sequence[tuple[int, int]], strides: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor points ``[A, 2]`` (x, y in pixels) and their strides ``[A]``, levels in order, row-major."""
    points, stride_list = [], []
    for (h, w), s in zip(shapes, strides, strict=True):
        ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
        points.append(torch.stack((xs, ys), -1).reshape(-1, 2) * s)
        stride_list.append(torch.full((h * w,), float(s)))
    return torch.cat(points), torch.cat(stride_list)


def dfl_distances(logits: torch.Tensor, reg_max: int) -> torch.Tensor:
    """``[..., 4 * reg_max]`` logits -> ``[..., 4]`` expected distances (in cells) for l, t, r, b."""
    probs = logits.unflatten(-1, (4, reg_max)).softmax(-1)
    return probs @ torch.arange(reg_max, dtype=probs.dtype, device=probs.device)


def decode(
    outputs: Sequence[torch.Tensor], strides: Sequence[int], reg_max: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Head maps ``[B, 4 reg_max + K, H, W]`` per level -> boxes ``[B, A, 4]`` (x1, y1, x2, y2, model
    pixels) and class scores ``[B, A, K]`` (sigmoids)."""
    flat = torch.cat([o.flatten(2) for o in outputs], 2).transpose(1, 2)  # [B, A, 4 reg_max + K]
    points, stride = make_anchors([tuple(o.shape[-2:]) for o in outputs], strides)
    points, stride = points.to(flat), stride.to(flat)
    dist = dfl_distances(flat[..., : 4 * reg_max], reg_max) * stride[:, None]
    boxes = torch.cat((points - dist[..., :2], points + dist[..., 2:]), -1)
    return boxes, flat[..., 4 * reg_max :].sigmoid()


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box ``[4]`` with each of ``boxes`` ``[N, 4]`` (x1, y1, x2, y2); 0 for an empty union."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = np.clip(box[2] - box[0], 0, None) * np.clip(box[3] - box[1], 0, None)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS: indices of the kept boxes, best score first; a box goes if its IoU with a kept,
    better box exceeds ``iou_threshold``. Equal scores keep the lower index first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(boxes, dtype=np.float64)
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware NMS: boxes of different labels never suppress each other. Kept indices, best
    score first (equal scores: lower index first)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    kept = [np.zeros(0, np.int64)]
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    keep = np.concatenate(kept)
    return keep[np.lexsort((keep, -scores[keep]))]


def postprocess(
    outputs: Sequence[torch.Tensor],
    strides: Sequence[int],
    reg_max: int = 16,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.7,
    max_detections: int = 300,
    max_candidates: int = 30000,
    resize: Resize | None = None,
    class_names: tuple[str, ...] = (),
) -> list[Detections]:
    """Decode head maps into one :class:`Detections` per batch item, in sensor pixels when ``resize``
    (the events' fit to the model input) is given, else in model pixels."""
    boxes, scores = decode([o.detach().float().cpu() for o in outputs], strides, reg_max)
    results = []
    for b in range(boxes.shape[0]):
        best, label = scores[b].max(-1)
        mask = best > conf_threshold
        bx, sc, lb = boxes[b][mask].numpy(), best[mask].numpy(), label[mask].numpy()
        if len(sc) > max_candidates:
            top = np.argsort(-sc, kind="stable")[:max_candidates]
            bx, sc, lb = bx[top], sc[top], lb[top]
        keep = batched_nms(bx, sc, lb, iou_threshold)[:max_detections]
        bx, sc, lb = bx[keep], sc[keep], lb[keep]
        if resize is not None:
            bx = resize.boxes_to_sensor(bx)
        bx = np.asarray(bx, dtype=np.float32).reshape(-1, 4)
        results.append(Detections(bx, sc.astype(np.float32), lb.astype(np.int64), class_names))
    return results
