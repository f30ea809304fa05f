"""YOLOv8's loss: CIoU and DFL against hand-worked values, the assigner on hand-made scenes, overfitting."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.perception.detection import DetectorConfig, SpikeYOLO
from spikesight.perception.detection.loss import (
    DetectionLoss,
    TaskAlignedAssigner,
    box_iou,
    ciou,
    dfl_loss,
)
from spikesight.perception.snn.base import reset_net


def slow_ciou(a, b):
    """CIoU straight from Zheng et al. (AAAI 2020), one pair of python-float boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    wa, ha, wb, hb = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    iou = inter / (wa * ha + wb * hb - inter)
    cx_a, cy_a, cx_b, cy_b = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    rho2 = (cx_a - cx_b) ** 2 + (cy_a - cy_b) ** 2
    c2 = (max(a[2], b[2]) - min(a[0], b[0])) ** 2 + (max(a[3], b[3]) - min(a[1], b[1])) ** 2
    v = 4 / math.pi**2 * (math.atan(wb / hb) - math.atan(wa / ha)) ** 2
    alpha = v / (1 - iou + v) if v > 0 else 0.0
    return iou - rho2 / c2 - alpha * v


coord = st.floats(0, 100, allow_nan=False)
size = st.floats(0.5, 60, allow_nan=False)
box = st.tuples(coord, coord, size, size).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@settings(max_examples=100, deadline=None)
@given(a=box, b=box)
def test_ciou_matches_the_formula(a, b):
    got = ciou(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)).item()
    assert got == pytest.approx(slow_ciou(a, b), abs=1e-6)


def test_ciou_known_values():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [3, 4, 10, 20]])
    b = torch.tensor([[4.0, 0, 6, 2], [0, 0, 2, 2], [3, 4, 10, 20]])
    # disjoint equal squares: IoU 0, centre distance 4, enclosing box 6 x 2 -> -16 / 40
    assert ciou(a, b).tolist() == pytest.approx([-0.4, 1.0, 1.0], abs=1e-6)
    assert (1 - ciou(a[1:], b[1:])).abs().max() < 1e-6  # identical boxes: zero loss


def test_ciou_gradient_pulls_box_towards_target():
    pred = torch.tensor([[0.0, 0, 4, 4]], requires_grad=True)
    (1 - ciou(pred, torch.tensor([[2.0, 0, 6, 4]]))).sum().backward()
    assert pred.grad[0, 0] < 0 and pred.grad[0, 2] < 0  # moving right lowers the loss


def test_box_iou_values():
    a = torch.tensor([0.0, 0, 2, 2])
    b = torch.tensor([[1.0, 0, 3, 2], [2, 2, 3, 3], [0, 0, 2, 2]])
    assert box_iou(a, b).tolist() == pytest.approx([1 / 3, 0.0, 1.0])


def test_dfl_on_a_known_distribution():
    reg_max = 16
    probs = torch.full((reg_max,), 1e-6)
    probs[3], probs[4] = 0.7, 0.3
    logits = probs.log().expand(1, 4, reg_max)
    # target 3.3: weight 0.7 on bin 3 and 0.3 on bin 4 -> the cross-entropy of (0.7, 0.3) with itself
    target = torch.full((1, 4), 3.3)
    entropy = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    assert dfl_loss(logits, target).item() == pytest.approx(entropy, rel=1e-4)
    # an integer target: -log p of its bin
    assert dfl_loss(logits, torch.full((1, 4), 4.0)).item() == pytest.approx(-math.log(0.3), rel=1e-4)
    # the matching distribution is the minimum over nearby ones
    for other in (0.5, 0.9):
        p = probs.clone()
        p[3], p[4] = other, 1 - other
        assert dfl_loss(p.log().expand(1, 4, reg_max), target) > dfl_loss(logits, target)


def test_dfl_gradient_is_zero_at_the_optimum():
    logits = torch.tensor([0.7, 0.3, 0.0, 0.0]).clamp(min=1e-12).log().expand(1, 4, 4).clone()
    logits.requires_grad_(True)
    dfl_loss(logits, torch.full((1, 4), 0.3)).sum().backward()
    assert logits.grad[..., :2].abs().max() < 1e-6


def grid(n=8, step=10.0):
    ys, xs = torch.meshgrid(torch.arange(n) * step + 5, torch.arange(n) * step + 5, indexing="ij")
    return torch.stack((xs, ys), -1).reshape(-1, 2).float()


def anchor_index(anchors, x, y):
    return int(((anchors[:, 0] == x) & (anchors[:, 1] == y)).nonzero()[0, 0])


def test_anchor_outside_a_box_is_never_assigned():
    anchors = grid()
    gt = torch.tensor([[12.0, 12, 28, 28]])  # anchors inside: (15, 15), (25, 15), (15, 25), (25, 25)
    # every prediction is the ground truth itself with full confidence: only geometry decides
    boxes = gt.expand(len(anchors), 4).clone()
    scores = torch.ones(len(anchors), 2)
    a = TaskAlignedAssigner(top_k=10)(scores, boxes, anchors, torch.tensor([1]), gt)
    inside = {anchor_index(anchors, x, y) for x in (15, 25) for y in (15, 25)}
    assert set(a.foreground.nonzero()[:, 0].tolist()) == inside
    assert a.labels[list(inside)].tolist() == [1] * 4
    assert torch.allclose(a.boxes[list(inside)], gt.expand(4, 4))
    # normalised: the best anchor gets the box's best IoU (1 here), class 0 gets nothing
    assert a.scores[list(inside), 1].tolist() == pytest.approx([1.0] * 4)
    assert a.scores[:, 0].abs().max() == 0
    assert a.scores[~a.foreground].abs().max() == 0


def test_anchor_inside_two_boxes_goes_to_the_higher_iou():
    anchors = grid()
    gts = torch.tensor([[10.0, 10, 40, 40], [20.0, 20, 60, 60]])  # both hold (25, 25), (35, 35)...
    shared = anchor_index(anchors, 25, 25)
    boxes = torch.tensor([[0.0, 0, 1, 1]]).expand(len(anchors), 4).clone()
    boxes[shared] = torch.tensor([21.0, 21, 59, 59])  # overlaps box 1 far more than box 0
    scores = torch.full((len(anchors), 2), 0.5)
    a = TaskAlignedAssigner(top_k=10)(scores, boxes, anchors, torch.tensor([0, 1]), gts)
    assert a.foreground[shared] and a.gt_index[shared] == 1 and a.labels[shared] == 1
    boxes[shared] = torch.tensor([11.0, 11, 39, 39])  # now box 0 overlaps more
    a = TaskAlignedAssigner(top_k=10)(scores, boxes, anchors, torch.tensor([0, 1]), gts)
    assert a.gt_index[shared] == 0 and a.labels[shared] == 0
    assert torch.equal(a.boxes[shared], gts[0])


def test_top_k_keeps_the_best_aligned():
    anchors = grid()
    gt = torch.tensor([[0.0, 0, 50, 50]])  # 25 anchors inside
    boxes = gt.expand(len(anchors), 4).clone()
    scores = torch.full((len(anchors), 1), 0.1)
    best = [anchor_index(anchors, 5, 5), anchor_index(anchors, 45, 25), anchor_index(anchors, 15, 35)]
    scores[best, 0] = torch.tensor([0.9, 0.8, 0.7])
    a = TaskAlignedAssigner(top_k=3)(scores, boxes, anchors, torch.tensor([0]), gt)
    assert sorted(a.foreground.nonzero()[:, 0].tolist()) == sorted(best)
    # targets: alignment sqrt(s) * 1^6 scaled so the best is the max IoU (1)
    expect = [1.0, math.sqrt(0.8 / 0.9), math.sqrt(0.7 / 0.9)]
    assert a.scores[best, 0].tolist() == pytest.approx(expect, rel=1e-5)


def test_no_ground_truth_means_no_positives():
    anchors = grid(4)
    scores, boxes = torch.rand(16, 2), torch.rand(16, 4)
    a = TaskAlignedAssigner()(scores, boxes, anchors, torch.zeros(0), torch.zeros(0, 4))
    assert not a.foreground.any() and a.scores.sum() == 0


def tiny_model():
    torch.manual_seed(0)
    return SpikeYOLO(DetectorConfig(scale="tiny", in_channels=2))


def test_loss_parts_and_empty_targets():
    model = tiny_model()
    loss_fn = DetectionLoss(2, model.strides, 16)
    x = torch.rand(2, 2, 2, 64, 64)
    total, parts = loss_fn(model(x), torch.zeros(0, 6))
    assert set(parts) == {"box", "cls", "dfl"} and parts["box"] == 0 and parts["dfl"] == 0
    assert total.item() == pytest.approx(0.5 * parts["cls"])
    total.backward()
    with pytest.raises(ValueError):
        loss_fn(model(x), torch.zeros(3, 5))


def test_overfitting_one_batch_lowers_the_loss():
    model = tiny_model()
    loss_fn = DetectionLoss(2, model.strides, 16)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(2, 2, 2, 64, 96, generator=g) < 0.1).float()
    targets = torch.tensor([[0, 0, 8, 10, 40, 40], [0, 1, 50, 20, 70, 60], [1, 0, 30, 5, 90, 50]]).float()
    opt = torch.optim.AdamW(model.parameters(), 2e-3)
    losses = []
    for _ in range(30):
        reset_net(model)
        total, _ = loss_fn(model(x), targets)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
