"""YOLOv8's detection loss, written from its papers' definitions: task-aligned assignment, BCE, CIoU, DFL.

* Assignment (Feng et al., "TOOD: Task-aligned One-stage Object Detection", ICCV 2021): for each
  ground-truth box ``g`` of class ``c`` and each anchor point ``a`` inside it, the alignment metric is
  ``t = s^alpha * u^beta`` where ``s`` is the anchor's predicted score for ``c`` and ``u`` the IoU of
  its predicted box with ``g`` (YOLOv8: alpha 0.5, beta 6). The ``top_k`` (10) anchors of highest
  ``t`` inside ``g`` are its candidates; an anchor that is a candidate of several boxes keeps the one
  its prediction overlaps most. The classification target of a positive anchor is ``t`` normalised
  per box so that its best anchor's target equals the box's best IoU (``t * max u / max t``).
* Classification: binary cross-entropy of the class logits against those soft targets, summed over
  all anchors and classes and divided by the sum of the targets.
* Box: ``1 - CIoU`` (Zheng et al., "Distance-IoU Loss", AAAI 2020) of each positive anchor's box with
  its ground truth, weighted by the anchor's target score, divided by the same sum.
* DFL (Li et al., "Generalized Focal Loss", NeurIPS 2020): each side's distance ``y`` from the anchor
  (in strides, clamped below ``reg_max - 1``) lies between bins ``i = floor(y)`` and ``i + 1``; the
  loss is ``-((i + 1 - y) log p_i + (y - i) log p_{i+1})`` averaged over the 4 sides, weighted and
  normalised like the box loss.

The total is ``7.5 box + 0.5 cls + 1.5 dfl`` (YOLOv8's gains). Boxes are ``x0, y0, x1, y1`` in model
pixels throughout: IoU, CIoU and the assignment do not change when both boxes scale together, so
nothing needs converting to grid units except the DFL targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .postprocess import dfl_distances, make_anchors

EPS = 1e-9


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``[..., 4]`` boxes (x0, y0, x1, y1); 0 for inverted boxes."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of ``a`` and ``b`` (``[..., 4]``, broadcast); 0 where the union is empty."""
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = w * h
    union = box_area(a) + box_area(b) - inter
    return inter / union.clamp(min=EPS)


def ciou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Complete IoU of ``a`` and ``b`` (``[..., 4]``, broadcast): ``IoU - rho^2 / c^2 - alpha v``.

    ``rho`` is the distance between the centres, ``c`` the diagonal of the smallest box enclosing
    both, ``v = 4 / pi^2 (atan(w_b / h_b) - atan(w_a / h_a))^2`` and ``alpha = v / (1 - IoU + v)``
    (treated as a constant in the gradient, as the DIoU paper prescribes).
    """
    iou = box_iou(a, b)
    wa, ha = a[..., 2] - a[..., 0], (a[..., 3] - a[..., 1]).clamp(min=eps)
    wb, hb = b[..., 2] - b[..., 0], (b[..., 3] - b[..., 1]).clamp(min=eps)
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    c2 = cw**2 + ch**2 + eps
    dx = a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]
    dy = a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]
    rho2 = (dx**2 + dy**2) / 4
    v = (4 / math.pi**2) * (torch.atan(wb / hb) - torch.atan(wa / ha)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - rho2 / c2 - alpha * v


def dfl_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution focal loss of ``[N, 4, reg_max]`` logits for ``[N, 4]`` target distances (in bins,
    within ``[0, reg_max - 1)``), averaged over the 4 sides: ``[N]``."""
    left = target.floor().long()
    w_right = target - left
    log_p = logits.log_softmax(-1)
    lp_left = log_p.gather(-1, left.unsqueeze(-1)).squeeze(-1)
    lp_right = log_p.gather(-1, (left + 1).clamp(max=logits.shape[-1] - 1).unsqueeze(-1)).squeeze(-1)
    return -((1 - w_right) * lp_left + w_right * lp_right).mean(-1)


@dataclass
class Assignment:
    """One image's targets per anchor: ``labels`` [A] (long), ``boxes`` [A, 4], ``scores`` [A, K]
    (normalised alignment at the label's class, 0 elsewhere), ``foreground`` [A] (bool) and
    ``gt_index`` [A] (the ground truth each positive anchor is assigned to; 0 for negatives)."""

    labels: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    foreground: torch.Tensor
    gt_index: torch.Tensor


@dataclass(frozen=True)
class TaskAlignedAssigner:
    """TOOD's task-aligned assignment of anchors to ground truths (see the module docstring)."""

    top_k: int = 10
    alpha: float = 0.5
    beta: float = 6.0

    @torch.no_grad()
    def __call__(
        self,
        scores: torch.Tensor,
        boxes: torch.Tensor,
        anchors: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_boxes: torch.Tensor,
    ) -> Assignment:
        """``scores`` [A, K] (probabilities) and ``boxes`` [A, 4] predicted at ``anchors`` [A, 2];
        ``gt_labels`` [G] and ``gt_boxes`` [G, 4] the image's ground truth."""
        n_anchors, n_classes = scores.shape
        n_gt = len(gt_labels)
        if n_gt == 0:
            return Assignment(
                torch.zeros(n_anchors, dtype=torch.long, device=scores.device),
                torch.zeros(n_anchors, 4, dtype=boxes.dtype, device=boxes.device),
                torch.zeros_like(scores),
                torch.zeros(n_anchors, dtype=torch.bool, device=scores.device),
                torch.zeros(n_anchors, dtype=torch.long, device=scores.device),
            )
        gt_labels = gt_labels.long()
        ax, ay = anchors[:, 0], anchors[:, 1]
        inside = (
            (ax[None] > gt_boxes[:, 0:1])
            & (ax[None] < gt_boxes[:, 2:3])
            & (ay[None] > gt_boxes[:, 1:2])
            & (ay[None] < gt_boxes[:, 3:4])
        )  # [G, A]
        iou = box_iou(gt_boxes[:, None], boxes[None]) * inside  # [G, A]
        score = scores[:, gt_labels].T * inside  # [G, A]
        align = score.pow(self.alpha) * iou.pow(self.beta)
        # top-k anchors inside each box by alignment (anchors outside rank below every inside one)
        ranked = torch.where(inside, align, torch.full_like(align, -1.0))
        k = min(self.top_k, n_anchors)
        top = ranked.topk(k, dim=1).indices
        candidate = torch.zeros_like(inside)
        candidate.scatter_(1, top, True)
        candidate &= inside
        # an anchor claimed by several boxes keeps the one its prediction overlaps most
        best_gt = torch.where(candidate, iou, torch.full_like(iou, -1.0)).argmax(0)  # [A]
        candidate &= F.one_hot(best_gt, n_gt).T.bool()
        foreground = candidate.any(0)
        gt_index = torch.where(foreground, best_gt, torch.zeros_like(best_gt))
        # normalised alignment: each box's best anchor gets the box's best IoU
        align = align * candidate
        max_align = align.amax(1, keepdim=True)
        max_iou = (iou * candidate).amax(1, keepdim=True)
        norm = (align * max_iou / (max_align + EPS)).amax(0)  # [A]: each anchor has one box
        labels = gt_labels[gt_index]
        target_scores = F.one_hot(labels, n_classes).to(scores.dtype) * (norm * foreground)[:, None]
        return Assignment(labels, gt_boxes[gt_index], target_scores, foreground, gt_index)


@dataclass(frozen=True)
class LossGains:
    """YOLOv8's weights of the three parts."""

    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5


class DetectionLoss:
    """YOLOv8's loss on SpikeYOLO's raw head maps (see the module docstring).

    ``__call__(outputs, targets)``: ``outputs`` the model's list of ``[B, 4 reg_max + K, H, W]`` maps
    (one per stride); ``targets`` ``[M, 6]`` rows ``(batch index, class, x0, y0, x1, y1)`` in model
    pixels. Returns the weighted total and its unweighted parts ``box``, ``cls``, ``dfl``.
    """

    def __init__(
        self,
        num_classes: int,
        strides: Sequence[int],
        reg_max: int = 16,
        assigner: TaskAlignedAssigner | None = None,
        gains: LossGains | None = None,
    ) -> None:
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.reg_max = reg_max
        self.assigner = assigner or TaskAlignedAssigner()
        self.gains = gains or LossGains()

    def __call__(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        r, k = self.reg_max, self.num_classes
        batch = outputs[0].shape[0]
        flat = torch.cat([o.flatten(2) for o in outputs], 2).transpose(1, 2)  # [B, A, 4r + K]
        if flat.shape[-1] != 4 * r + k:
            raise ValueError(f"head maps have {flat.shape[-1]} channels, expected 4 * {r} + {k}")
        anchors, stride = make_anchors([tuple(o.shape[-2:]) for o in outputs], self.strides)
        anchors, stride = anchors.to(flat), stride.to(flat)
        box_logits, cls_logits = flat[..., : 4 * r], flat[..., 4 * r :]
        dist = dfl_distances(box_logits, r) * stride[:, None]
        pred_boxes = torch.cat((anchors - dist[..., :2], anchors + dist[..., 2:]), -1)  # [B, A, 4]
        targets = targets.to(flat)
        if targets.ndim != 2 or targets.shape[1] != 6:
            raise ValueError(f"targets must be [M, 6] (batch, class, x0..y1), got {tuple(targets.shape)}")

        scores = cls_logits.detach().sigmoid()
        assigned = []
        for b in range(batch):
            gt = targets[targets[:, 0] == b]
            assigned.append(self.assigner(scores[b], pred_boxes[b].detach(), anchors, gt[:, 1], gt[:, 2:]))
        target_scores = torch.stack([a.scores for a in assigned])  # [B, A, K]
        target_boxes = torch.stack([a.boxes for a in assigned])
        fg = torch.stack([a.foreground for a in assigned])
        score_sum = target_scores.sum().clamp(min=1.0)

        loss_cls = F.binary_cross_entropy_with_logits(cls_logits, target_scores, reduction="sum") / score_sum
        if bool(fg.any()):
            weight = target_scores.sum(-1)[fg]
            loss_box = ((1 - ciou(pred_boxes[fg], target_boxes[fg])) * weight).sum() / score_sum
            anchor_fg = anchors.expand(batch, -1, -1)[fg]
            tb = target_boxes[fg]
            ltrb = torch.cat((anchor_fg - tb[:, :2], tb[:, 2:] - anchor_fg), -1)
            ltrb = (ltrb / stride.expand(batch, -1)[fg, None]).clamp(0, r - 1 - 0.01)
            loss_dfl = (dfl_loss(box_logits[fg].unflatten(-1, (4, r)), ltrb) * weight).sum() / score_sum
        else:
            loss_box = loss_dfl = flat.sum() * 0.0
        g = self.gains
        total = g.box * loss_box + g.cls * loss_cls + g.dfl * loss_dfl
        parts = {n: float(v.detach()) for n, v in {"box": loss_box, "cls": loss_cls, "dfl": loss_dfl}.items()}
        return total, parts
