"""Normalised log depth: the formula on hand-picked depths, clipping, NaN, round trips (numpy and torch)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.perception.depth import depth_to_log, log_to_depth


def test_known_values():
    # D_max = 80, alpha = 3.7: D = 80 -> 1; D = 80/e -> 1 - 1/3.7; D = 80 e^-3.7 -> 0.
    d = np.array([80.0, 80.0 / math.e, 80.0 * math.exp(-3.7)])
    np.testing.assert_allclose(depth_to_log(d), [1.0, 1.0 - 1.0 / 3.7, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        log_to_depth(np.array([1.0, 0.5, 0.0])), [80.0, 80 * math.exp(-1.85), 1.97788], rtol=1e-5
    )


def test_other_constants():
    assert depth_to_log(np.array([10.0]), max_depth=20.0, alpha=2.0)[0] == pytest.approx(1 - math.log(2) / 2)
    assert log_to_depth(np.array([0.0]), max_depth=20.0, alpha=2.0)[0] == pytest.approx(20 * math.exp(-2))


def test_clipping_zero_negative_nan():
    with np.errstate(all="raise"):  # no warning may escape
        out = depth_to_log(np.array([0.0, -3.0, 1.0, 500.0, np.nan], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:4], [0.0, 0.0, 0.0, 1.0])
    assert np.isnan(out[4])
    back = log_to_depth(np.array([-0.5, 1.5, np.nan]))
    np.testing.assert_allclose(back[:2], [80 * math.exp(-3.7), 80.0])
    assert np.isnan(back[2])


def test_integer_input():
    assert depth_to_log(np.array([80]))[0] == 1.0
    assert log_to_depth(np.array([1]))[0] == 80.0


def test_torch_matches_numpy_and_keeps_gradient():
    d = np.array([[0.0, 1.0, 2.5], [7.0, 79.0, np.nan]], dtype=np.float32)
    t = torch.tensor(d)
    out = depth_to_log(t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), depth_to_log(d), rtol=1e-6)
    x = torch.tensor([0.3, 0.9], requires_grad=True)
    log_to_depth(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.7 * 80 * np.exp(3.7 * (np.array([0.3, 0.9]) - 1)), rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=80 * math.exp(-3.7), max_value=80.0))
def test_round_trip_inside_range(depth):
    assert log_to_depth(depth_to_log(np.array([depth])))[0] == pytest.approx(depth, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_round_trip_log(x):
    assert depth_to_log(log_to_depth(np.array([x])))[0] == pytest.approx(x, abs=1e-12)
