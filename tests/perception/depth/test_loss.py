"""Scale-invariant and gradient-matching losses: hand-worked values, invariances, NaN handling."""

import math

import pytest
import torch

from spikesight.perception.depth import DepthLoss, gradient_matching_loss, scale_invariant_loss

NAN = math.nan


def maps(*rows_per_sample):
    return torch.tensor(rows_per_sample, dtype=torch.float64).unsqueeze(1)  # [B, 1, H, W]


PRED = maps([[0.5, 0.7], [0.2, 0.9]])
TARGET = maps([[0.4, 0.4], [NAN, 0.9]])
# Valid residuals R = 0.1, 0.3, 0 (the NaN pixel is ignored).


def test_scale_invariant_by_hand():
    expected = (0.01 + 0.09 + 0.0) / 3 - (0.4 / 3) ** 2
    assert float(scale_invariant_loss(PRED, TARGET)) == pytest.approx(expected)


def test_gradient_matching_by_hand_2x2():
    # dx: top row |0.3 - 0.1| = 0.2 (bottom row has the NaN); dy: right column |0 - 0.3| = 0.3; n = 3.
    # Coarser scales of a 2x2 map have no neighbours (or do not fit): they add nothing.
    for scales in (1, 2, 4):
        assert float(gradient_matching_loss(PRED, TARGET, scales=scales)) == pytest.approx(0.5 / 3)


def test_gradient_matching_by_hand_two_scales():
    target = torch.zeros(1, 1, 2, 4, dtype=torch.float64)
    pred = maps([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    # scale 1: each row has one step of 1 -> (1 + 1) / 8 pixels; scale 2: pooled [0, 1] -> 1 / 2 pixels.
    assert float(gradient_matching_loss(pred, target, scales=1)) == pytest.approx(0.25)
    assert float(gradient_matching_loss(pred, target, scales=2)) == pytest.approx(0.25 + 0.5)
    # A NaN target at (1, 3): scale 1 keeps both steps of 1 (the bottom one is (1, 1) -> (1, 2)) over
    # 7 pixels; the block's mean residual over its valid pixels is unchanged, so scale 2 still adds 0.5.
    target[0, 0, 1, 3] = NAN
    assert float(gradient_matching_loss(pred, target, scales=2)) == pytest.approx(2 / 7 + 0.5)


def test_zero_for_identical_maps_and_constant_log_offset():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 1, 16, 12, generator=g, dtype=torch.float64)
    target[0, 0, :3, :5] = NAN
    for pred in (target.nan_to_num(0.3), target.nan_to_num(0.3) + 0.27):  # + c in log = global depth scale
        assert float(scale_invariant_loss(pred, target)) == pytest.approx(0.0, abs=1e-12)
        assert float(gradient_matching_loss(pred, target)) == pytest.approx(0.0, abs=1e-12)
    wrong = target.nan_to_num(0.3) + 0.1 * torch.rand(target.shape, generator=g, dtype=torch.float64)
    assert float(scale_invariant_loss(wrong, target)) > 0
    assert float(gradient_matching_loss(wrong, target)) > 0


def test_nan_pixels_ignored_and_get_no_gradient():
    pred = PRED.clone().requires_grad_(True)
    loss, _ = DepthLoss()(pred, TARGET)
    loss.backward()
    assert pred.grad[0, 0, 1, 0] == 0 and pred.grad.abs().sum() > 0
    other = PRED.clone()
    other[0, 0, 1, 0] = 123.0
    assert float(DepthLoss()(other, TARGET)[0]) == pytest.approx(loss.item())


def test_mask_argument_and_empty_samples():
    mask = torch.ones_like(PRED, dtype=torch.bool)
    mask[0, 0, 0, 0] = False  # drop R = 0.1 -> residuals 0.3, 0
    assert float(scale_invariant_loss(PRED, TARGET, mask)) == pytest.approx(0.09 / 2 - 0.15**2)
    # A sample without valid pixels does not count (and does not dilute the mean).
    empty = torch.full_like(TARGET, NAN)
    both = DepthLoss()(torch.cat([PRED, PRED]), torch.cat([TARGET, empty]))[0]
    assert float(both) == pytest.approx(float(DepthLoss()(PRED, TARGET)[0]))
    assert float(DepthLoss()(PRED, empty)[0]) == 0.0


def test_total_and_parts():
    loss, parts = DepthLoss(grad_weight=0.5, si_lambda=0.5)(PRED, TARGET)
    si, grad = scale_invariant_loss(PRED, TARGET, lam=0.5), gradient_matching_loss(PRED, TARGET)
    assert float(si) == pytest.approx((0.01 + 0.09) / 3 - 0.5 * (0.4 / 3) ** 2)
    assert float(loss) == pytest.approx(float(si + 0.5 * grad))
    assert parts == pytest.approx({"si": float(si), "grad": float(grad), "loss": float(loss)})
    assert float(DepthLoss(grad_weight=0.0)(PRED, TARGET)[0]) == pytest.approx(float(si))


def test_lambda_below_one_pins_the_absolute_scale():
    # A constant log offset c of a perfect prediction costs (1 - lambda) c^2; nothing for lambda = 1.
    target = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    for lam in (0.0, 0.5, 1.0):
        loss = scale_invariant_loss(target + 0.2, target, lam=lam)
        assert float(loss) == pytest.approx((1 - lam) * 0.04, abs=1e-12)


def test_per_sample_scale_invariance():
    # Each sample may be off by its own constant: the loss is computed per sample.
    target = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    pred = target + torch.tensor([0.1, -0.2], dtype=torch.float64).view(2, 1, 1, 1)
    assert float(DepthLoss(si_lambda=1.0)(pred, target)[0]) == pytest.approx(0.0, abs=1e-12)
    # With lambda = 0.5 each sample pays for its own offset: (0.5 * 0.01 + 0.5 * 0.04) / 2.
    assert float(DepthLoss(si_lambda=0.5)(pred, target)[0]) == pytest.approx(0.0125)


def test_bad_shapes():
    with pytest.raises(ValueError):
        DepthLoss()(PRED, TARGET[..., :1])
    with pytest.raises(ValueError):
        DepthLoss(scales=0)
    with pytest.raises(ValueError):
        DepthLoss(si_lambda=1.5)
