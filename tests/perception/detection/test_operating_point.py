"""Precision, recall and F1 against the confidence threshold, on hand-made detections."""

import numpy as np
import pytest

from spikesight.perception.detection.operating_point import operating_curve

A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 70]


def case():
    preds = [
        (np.array([A, [1, 0, 11, 10], [100, 100, 110, 110], C, C], float),  # boxes
         np.array([0.9, 0.8, 0.6, 0.3, 0.7]),  # scores
         np.array([0, 0, 0, 1, 0])),  # labels
        (np.array([[5, 5, 9, 9]], float), np.array([0.5]), np.array([1])),
    ]
    truths = [(np.array([A, B, C], float), np.array([0, 0, 1])), (np.zeros((0, 4)), np.zeros(0, int))]
    return preds, truths


def test_counts_worked_out_by_hand():
    curve = operating_curve(*case(), num_classes=2, thresholds=(0.3, 0.6, 0.65, 0.75, 0.85, 0.95))
    assert curve.ground_truth == (2, 1)
    # class 0: 0.9 is a true positive; 0.8 duplicates A, 0.7 lies on a class-1 box, 0.6 hits nothing
    np.testing.assert_allclose(curve.precision[:, 0], [1 / 4, 1 / 4, 1 / 3, 1 / 2, 1, 0])
    np.testing.assert_allclose(curve.recall[:, 0], [0.5, 0.5, 0.5, 0.5, 0.5, 0])
    np.testing.assert_allclose(curve.f1[:, 0], [1 / 3, 1 / 3, 0.4, 0.5, 2 / 3, 0])
    # class 1: C at 0.3 is found; the 0.5 detection of the empty image is false
    np.testing.assert_allclose(curve.precision[:, 1], [0.5, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(curve.recall[:, 1], [1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(curve.mean_f1, [0.5, 1 / 6, 0.2, 0.25, 1 / 3, 0])
    assert curve.best() == 0.3
    d = curve.as_dict(("car", "pedestrian"))
    assert d["conf"] == 0.3 and d["per_class"]["pedestrian"] == {
        "precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "ground_truth": 1}


def test_greedy_matching_gives_each_box_to_the_best_scored_detection():
    truth = [(np.array([A], float), np.array([0]))]
    near, exact = [1, 1, 11, 11], A
    two = (np.array([near, exact], float), np.array([0.9, 0.4]), np.array([0, 0]))
    curve = operating_curve([two], truth, 1, thresholds=(0.3, 0.5))
    np.testing.assert_allclose(curve.precision[:, 0], [0.5, 1.0])  # the 0.9 one took A; the exact one is left
    loose = operating_curve([(np.array([[0, 0, 10, 20]], float), np.array([0.9]), np.array([0]))], truth, 1,
                            iou=0.5, thresholds=(0.5,))
    assert loose.recall[0, 0] == 1.0  # IoU exactly 0.5 counts
    strict = operating_curve([(np.array([[0, 0, 10, 20]], float), np.array([0.9]), np.array([0]))], truth, 1,
                             iou=0.51, thresholds=(0.5,))
    assert strict.recall[0, 0] == 0.0


def test_class_without_ground_truth_is_left_out_of_the_mean_and_bad_input():
    preds, truths = case()
    curve = operating_curve(preds, truths, num_classes=3, thresholds=(0.3,))
    assert curve.ground_truth[2] == 0 and curve.mean_f1[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="prediction lists"):
        operating_curve(preds, truths[:1], 2)
