"""Depth metrics on 2x2 maps whose values are worked out by hand, per-frame averaging, masks."""

import math

import numpy as np
import pytest
import torch

from spikesight.perception.depth import DepthMetrics, frame_metrics

NAN = float("nan")

# Frame A: three valid pixels (D = 2, 4, 10 m); the NaN pixel's prediction must be ignored.
GT_A = np.array([[2.0, 4.0], [10.0, NAN]])
PRED_A = np.array([[3.5, 4.0], [7.0, 1.0]])
# Per pixel: |D-P| = 1.5, 0, 3; ratio max(D/P, P/D) = 1.75, 1, 10/7 = 1.4286;
# d = ln P - ln D = ln 1.75, 0, ln 0.7.
LA, LB = math.log(1.75), math.log(0.7)


def test_frame_a_by_hand():
    m = frame_metrics(PRED_A, GT_A, min_depth=1.0, max_depth=80.0, cutoffs=(3.0, 10.0, 20.0))
    assert m["mae_3"] == pytest.approx(1.5)  # only D = 2 is within 3 m
    assert m["mae_10"] == pytest.approx((1.5 + 0 + 3) / 3)  # D <= 10 is inclusive
    assert m["mae_20"] == pytest.approx(1.5)
    assert m["abs_rel"] == pytest.approx((1.5 / 2 + 0 + 3 / 10) / 3)
    assert m["sq_rel"] == pytest.approx((2.25 / 2 + 0 + 9 / 10) / 3)  # divided by D, not D^2
    assert m["rmse"] == pytest.approx(math.sqrt((2.25 + 0 + 9) / 3))
    assert m["rmse_log"] == pytest.approx(math.sqrt((LA**2 + LB**2) / 3))
    assert m["si_log"] == pytest.approx((LA**2 + LB**2) / 3 - ((LA + LB) / 3) ** 2)
    assert m["delta1"] == pytest.approx(1 / 3)  # only the exact pixel
    assert m["delta2"] == pytest.approx(2 / 3)  # 1.4286 < 1.5625 < 1.75
    assert m["delta3"] == pytest.approx(1.0)  # 1.75 < 1.953


def test_range_excludes_near_and_far_ground_truth():
    gt = np.array([[1.5, 4.0], [90.0, 80.0]])  # 1.5 m below min_depth, 90 m beyond max_depth
    pred = np.array([[1.0, 5.0], [1.0, 60.0]])
    m = frame_metrics(pred, gt, min_depth=2.0, max_depth=80.0)
    assert m["abs_rel"] == pytest.approx((1 / 4 + 20 / 80) / 2)
    assert m["mae_10"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 400) / 2))


def test_bad_predictions_and_empty_frame():
    gt = np.array([[5.0, 5.0], [NAN, NAN]])
    pred = np.array([[NAN, 0.0], [5.0, 5.0]])  # non-finite / non-positive predictions do not count
    m = frame_metrics(pred, gt, min_depth=1.0)
    assert all(math.isnan(v) for v in m.values())


def test_scale_invariance_of_si_log():
    rng = np.random.default_rng(0)
    gt = rng.uniform(2, 80, (8, 9))
    pred = gt * rng.uniform(0.7, 1.3, gt.shape)
    a = frame_metrics(pred, gt, 1.0, 1000.0)["si_log"]
    b = frame_metrics(pred * 3.0, gt, 1.0, 1000.0)["si_log"]
    assert a > 0 and b == pytest.approx(a)
    assert frame_metrics(gt * 2.0, gt, 1.0, 1000.0)["si_log"] == pytest.approx(0.0, abs=1e-12)


def test_perfect_prediction():
    gt = np.array([[2.0, 9.0], [25.0, 70.0]])
    m = frame_metrics(gt.copy(), gt, 1.0)
    for name in ("mae_10", "mae_20", "mae_30", "abs_rel", "sq_rel", "rmse", "rmse_log", "si_log"):
        assert m[name] == pytest.approx(0.0, abs=1e-12)
    assert m["delta1"] == m["delta2"] == m["delta3"] == 1.0


def test_accumulator_averages_frames_not_pixels():
    # Frame B: one valid pixel, D = 20, P = 25 -> |err| 5, abs_rel 0.25; no pixel under 10 m.
    gt_b = np.array([[20.0, NAN], [NAN, NAN]])
    pred_b = np.array([[25.0, 1.0], [1.0, 1.0]])
    acc = DepthMetrics(min_depth=1.0, max_depth=80.0)
    acc.update(PRED_A, GT_A)
    acc.update(torch.tensor(pred_b), torch.tensor(gt_b))  # tensors are accepted too
    out = acc.compute()
    assert out["frames"] == 2
    assert out["abs_rel"] == pytest.approx(((1.5 / 2 + 3 / 10) / 3 + 0.25) / 2)  # pooled would be 1.3/4
    assert out["mae_10"] == pytest.approx(1.5)  # frame B has no pixel within 10 m: frame A only
    assert out["mae_20"] == pytest.approx((1.5 + 5.0) / 2)
    acc.reset()
    assert acc.compute()["frames"] == 0 and math.isnan(acc.compute()["rmse"])


def test_batched_update_equals_frame_by_frame():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 90, (3, 1, 5, 6))
    gt[0, 0, 0, 0] = NAN
    pred = rng.uniform(2, 80, gt.shape)
    batched, single = DepthMetrics(), DepthMetrics()
    batched.update(pred, gt)
    for p, g in zip(pred[:, 0], gt[:, 0], strict=True):
        single.update(p, g)
    assert batched.compute() == pytest.approx(single.compute(), nan_ok=True)


def test_default_min_depth_and_errors():
    assert DepthMetrics().min_depth == pytest.approx(80 * math.exp(-3.7))
    with pytest.raises(ValueError):
        DepthMetrics().update(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError):
        DepthMetrics(min_depth=90.0)
