"""COCO mAP on hand-made predictions whose answers are worked out by hand.

COCO's AP is the mean over 101 recall points r = 0, 0.01, ..., 1 of the interpolated precision
(the best precision at any recall >= r; 0 where recall r is never reached).
"""

import math

import numpy as np
import pytest

from spikesight.perception.detection.metrics import coco_map
from spikesight.perception.results import Detections

NONE = (np.zeros((0, 4)), np.zeros(0), np.zeros(0))


def gt(*rows):
    """Ground truth from ``(x0, y0, x1, y1, label)`` rows."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return a[:, :4], a[:, 4].astype(int)


def pred(*rows):
    """Predictions from ``(x0, y0, x1, y1, score, label)`` rows."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return a[:, :4], a[:, 4], a[:, 5].astype(int)


def test_perfect_predictions_score_one():
    truths = [gt((0, 0, 10, 10, 0), (20, 30, 60, 90, 1)), gt((5, 5, 50, 40, 1)), gt()]
    preds = [pred((0, 0, 10, 10, 0.9, 0), (20, 30, 60, 90, 0.8, 1)), pred((5, 5, 50, 40, 0.7, 1)), NONE]
    m = coco_map(preds, truths, 2)
    assert (m.map50, m.map50_95, m.ap50, m.ap50_95) == (1.0, 1.0, (1.0, 1.0), (1.0, 1.0))
    assert m.as_dict(["car", "pedestrian"]) == {
        "map50": 1.0, "map50_95": 1.0, "ap50_car": 1.0, "ap50_pedestrian": 1.0,
        "ap50_95_car": 1.0, "ap50_95_pedestrian": 1.0,
    }


def test_one_of_two_found():
    # precision 1 up to recall 0.5, nothing beyond: 51 of the 101 recall points
    m = coco_map([pred((0, 0, 10, 10, 0.9, 0))], [gt((0, 0, 10, 10, 0), (50, 50, 80, 80, 0))], 1)
    assert m.map50 == pytest.approx(51 / 101)
    assert m.ap50 == pytest.approx((51 / 101,))


def test_iou_062_counts_at_050_to_060_only():
    # IoU of [0,0,100,62] with [0,0,100,100] is 0.62: matched at thresholds 0.50, 0.55, 0.60 of ten
    m = coco_map([pred((0, 0, 100, 62, 0.9, 0))], [gt((0, 0, 100, 100, 0))], 1)
    assert m.map50 == pytest.approx(1.0)
    assert m.map50_95 == pytest.approx(0.3)


def test_false_positive_ranked_first():
    # ranks: FP (0.9), TP (0.8), TP (0.7): precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> 2/3 everywhere
    truths = [gt((0, 0, 10, 10, 0), (30, 30, 50, 50, 0))]
    preds = [pred((100, 100, 120, 120, 0.9, 0), (0, 0, 10, 10, 0.8, 0), (30, 30, 50, 50, 0.7, 0))]
    assert coco_map(preds, truths, 1).map50 == pytest.approx(2 / 3)


def test_false_positive_on_an_image_without_ground_truth():
    truths = [gt(), gt((0, 0, 10, 10, 0))]
    above = [pred((0, 0, 10, 10, 0.95, 0)), pred((0, 0, 10, 10, 0.5, 0))]
    below = [pred((0, 0, 10, 10, 0.2, 0)), pred((0, 0, 10, 10, 0.5, 0))]
    assert coco_map(above, truths, 1).map50 == pytest.approx(0.5)  # precision 1/2 at recall 1
    assert coco_map(below, truths, 1).map50 == pytest.approx(1.0)  # recall 1 reached first


def test_per_class_ap_and_missing_classes():
    truths = [gt((0, 0, 10, 10, 0), (20, 20, 40, 40, 1))]
    # class 0 found; class 1 predicted with the wrong label only; class 2 has no ground truth
    preds = [pred((0, 0, 10, 10, 0.9, 0), (20, 20, 40, 40, 0.8, 0), (60, 60, 70, 70, 0.7, 2))]
    m = coco_map(preds, truths, 3)
    assert m.ap50[0] == pytest.approx(1.0)  # the wrong-label box ranks after the match
    assert m.ap50[1] == 0.0
    assert math.isnan(m.ap50[2]) and math.isnan(m.ap50_95[2])
    assert m.map50 == pytest.approx(0.5)


def test_empty_predictions_and_no_ground_truth():
    truths = [gt((0, 0, 10, 10, 0)), gt()]
    assert coco_map([NONE, NONE], truths, 1).map50 == 0.0
    m = coco_map([pred((0, 0, 10, 10, 0.9, 0))], [gt()], 2)
    assert math.isnan(m.map50) and math.isnan(m.map50_95)


def test_detections_objects_are_accepted():
    det = Detections(np.array([[0, 0, 10, 10]], np.float32), np.array([0.9], np.float32), np.array([1]))
    assert coco_map([det], [gt((0, 0, 10, 10, 1))], 2).ap50[1] == 1.0


def test_bad_input_raises():
    with pytest.raises(ValueError):
        coco_map([NONE], [gt(), gt()], 1)
    with pytest.raises(ValueError):
        coco_map([pred((0, 0, 1, 1, 0.5, 3))], [gt((0, 0, 1, 1, 0))], 2)
    with pytest.raises(ValueError):
        coco_map([(np.zeros((2, 4)), np.zeros(1), np.zeros(2))], [gt()], 1)
