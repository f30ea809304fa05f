"""Decoding SpikeYOLO's head: DFL distances, anchors, confidence filter, class-aware NMS, sensor boxes."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.perception.detection.postprocess import (
    batched_nms,
    decode,
    dfl_distances,
    make_anchors,
    nms,
    postprocess,
)
from spikesight.perception.representations.resize import Resize

NEG = -1e4  # a logit whose softmax weight is 0 in float32


def side_logits(reg_max: int, bins: dict[int, float]) -> list[float]:
    return [bins.get(i, NEG) for i in range(reg_max)]


def test_dfl_distances_by_hand():
    logits = torch.tensor(
        side_logits(16, {3: 0.0})  # all mass on bin 3 -> 3
        + side_logits(16, {2: 0.0, 4: 0.0})  # half on 2, half on 4 -> 3
        + side_logits(16, {0: 0.0, 1: math.log(3.0)})  # 1/4 on 0, 3/4 on 1 -> 0.75
        + [0.0] * 16  # uniform over 0..15 -> 7.5
    )
    torch.testing.assert_close(dfl_distances(logits, 16), torch.tensor([3.0, 3.0, 0.75, 7.5]))


def test_anchors_are_cell_centres_in_pixels():
    points, strides = make_anchors([(1, 2), (1, 1)], [8, 16])
    torch.testing.assert_close(points, torch.tensor([[4.0, 4.0], [12.0, 4.0], [8.0, 8.0]]))
    torch.testing.assert_close(strides, torch.tensor([8.0, 8.0, 16.0]))


def one_level(reg_max=4, classes=2):
    """A 1x2 map at stride 8: cell (0, 1) has l, t, r, b = 1, 0.5, 2, 0 cells and class 1 at logit 2."""
    out = torch.full((1, 4 * reg_max + classes, 1, 2), -10.0)
    out[0, : 4 * reg_max, :, :] = NEG
    out[0, 0 * reg_max + 0, 0, 0] = out[0, 1 * reg_max + 0, 0, 0] = 0.0  # cell (0, 0): zero-size box
    out[0, 2 * reg_max + 0, 0, 0] = out[0, 3 * reg_max + 0, 0, 0] = 0.0
    out[0, 0 * reg_max + 1, 0, 1] = 0.0  # left 1
    out[0, 1 * reg_max + 0, 0, 1] = out[0, 1 * reg_max + 1, 0, 1] = 0.0  # top 0.5
    out[0, 2 * reg_max + 2, 0, 1] = 0.0  # right 2
    out[0, 3 * reg_max + 0, 0, 1] = 0.0  # bottom 0
    out[0, 4 * reg_max + 1, 0, 1] = 2.0
    return out


def test_decode_by_hand():
    boxes, scores = decode([one_level()], [8], reg_max=4)
    # anchor (12, 4); distances x 8 px: l 8, t 4, r 16, b 0
    torch.testing.assert_close(boxes[0, 1], torch.tensor([4.0, 0.0, 28.0, 4.0]))
    torch.testing.assert_close(boxes[0, 0], torch.tensor([4.0, 4.0, 4.0, 4.0]))
    torch.testing.assert_close(scores[0, 1], torch.sigmoid(torch.tensor([-10.0, 2.0])))


def test_postprocess_filters_and_maps_boxes_to_the_sensor():
    resize = Resize(304, 240, 256, 192, "scale")
    (dets,) = postprocess(
        [one_level()], [8], reg_max=4, conf_threshold=0.5, resize=resize, class_names=("a", "b")
    )
    assert len(dets) == 1 and dets.class_names == ("a", "b")
    assert dets.labels.tolist() == [1]
    np.testing.assert_allclose(dets.scores, [1 / (1 + math.exp(-2.0))], rtol=1e-6)
    # model pixels (4, 0, 28, 4) times 304/256 in x and 240/192 in y
    np.testing.assert_allclose(dets.boxes, [[4.75, 0.0, 33.25, 5.0]], rtol=1e-6)
    assert dets.boxes.dtype == np.float32
    (none,) = postprocess([one_level()], [8], reg_max=4, conf_threshold=0.9)
    assert len(none) == 0 and none.boxes.shape == (0, 4)


def test_postprocess_keeps_the_best_class_and_caps_detections():
    out = one_level()
    out[0, 16 + 0, 0, 1] = 3.0  # class 0 now beats class 1 at the same anchor
    out[0, 16 + 0, 0, 0] = 1.0
    (dets,) = postprocess([out], [8], reg_max=4, conf_threshold=0.5)
    assert dets.labels.tolist() == [0, 0]
    assert dets.scores[0] > dets.scores[1]
    (one,) = postprocess([out], [8], reg_max=4, conf_threshold=0.5, max_detections=1)
    assert len(one) == 1


def reference_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def reference_nms(boxes, scores, labels, thr):
    """Greedy NMS by the definition: visit boxes by score (ties: lower index), keep a box unless a kept
    box of the same label overlaps it by more than thr."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        if all(labels[j] != labels[i] or reference_iou(boxes[i], boxes[j]) <= thr for j in kept):
            kept.append(i)
    return kept


coords = st.integers(0, 40).map(float)


@st.composite
def box_sets(draw):
    n = draw(st.integers(0, 25))
    boxes = []
    for _ in range(n):
        x, y = draw(coords), draw(coords)
        boxes.append([x, y, x + draw(st.integers(0, 20)), y + draw(st.integers(0, 20))])
    scores = [draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9])) for _ in range(n)]  # ties happen
    labels = [draw(st.integers(0, 2)) for _ in range(n)]
    return boxes, scores, labels


@settings(max_examples=80, deadline=None)
@given(box_sets(), st.sampled_from([0.0, 0.3, 0.5, 0.7]))
def test_batched_nms_matches_the_reference(data, thr):
    boxes, scores, labels = data
    got = batched_nms(np.array(boxes).reshape(-1, 4), np.array(scores), np.array(labels, dtype=np.int64), thr)
    assert got.tolist() == reference_nms(boxes, scores, labels, thr)


@settings(max_examples=50, deadline=None)
@given(box_sets(), st.sampled_from([0.3, 0.6]))
def test_nms_ignores_labels(data, thr):
    boxes, scores, _ = data
    got = nms(np.array(boxes).reshape(-1, 4), np.array(scores), thr)
    assert got.tolist() == reference_nms(boxes, scores, [0] * len(boxes), thr)


def test_nms_by_hand():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # box 3 (0.95) suppresses 0 (IoU 1) and 1 (IoU 90/110); 2 is apart
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    # class-aware: box 1 has its own class and survives
    assert batched_nms(boxes, scores, np.array([0, 1, 0, 0]), 0.5).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.95).tolist() == [3, 1, 2]  # 90/110 < 0.95 keeps box 1


@pytest.mark.parametrize("mode", ["pad", "scale"])
def test_postprocess_on_model_output_stays_on_the_sensor(mode):
    from spikesight.perception.detection import DetectorConfig, SpikeYOLO

    torch.manual_seed(0)
    model = SpikeYOLO(DetectorConfig(scale="tiny", num_classes=2)).eval()
    resize = Resize(304, 240, 320, 256, "pad") if mode == "pad" else Resize(304, 240, 256, 192, "scale")
    with torch.no_grad():
        out = model(torch.rand(2, 1, 3, resize.height, resize.width))
    (dets,) = postprocess(out, model.strides, conf_threshold=0.0, iou_threshold=0.7, resize=resize)
    assert len(dets) > 0
    assert (dets.boxes[:, [0, 2]] <= 304).all() and (dets.boxes[:, [1, 3]] <= 240).all()
    assert (dets.boxes >= 0).all() and (dets.boxes[:, 2:] >= dets.boxes[:, :2]).all()
