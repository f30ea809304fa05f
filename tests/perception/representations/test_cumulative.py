"""Cumulative stacking (MSS-DepthNet, as reconstructed) against hand-worked values and a python loop."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import CumulativeStack, FrameSequence, cumulative_stack

from .strategies import ref_window, windows


def ref_cumulative(events, width, height, steps, t0, t1):
    """X_k counts the events of [t0, t0 + k*d), d = (t1 - t0) / T, for k = 1..T."""
    rows, t0, t1 = ref_window(events, t0, t1)
    out = np.zeros((steps, 2, height, width))
    for k in range(1, steps + 1):
        for x, y, pol, t in rows:
            if (t - t0) * steps < k * (t1 - t0):
                out[k - 1, pol, y, x] += 1
    return out


def test_hand_worked_cumulative():
    ev = make_events([0, 0, 1, 2], [0, 0, 0, 0], [1, 1, 0, 1], [0, 9, 10, 29])
    out = CumulativeStack(3, 1, steps=3)(ev, 0, 30)
    assert out[:, 1, 0, 0].tolist() == [2, 2, 2]
    assert out[:, 0, 0, 1].tolist() == [0, 1, 1]
    assert out[:, 1, 0, 2].tolist() == [0, 0, 1]


def test_last_cumulative_step_is_the_whole_window():
    ev = make_events([0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0], [3, 5, 8, 13])
    stack = CumulativeStack(2, 2, steps=4)(ev)
    assert np.array_equal(stack[-1].numpy(), FrameSequence(2, 2, steps=1)(ev)[0].numpy())


def test_bad_configuration_raises():
    with pytest.raises(ValueError):
        CumulativeStack(4, 4, steps=0)


@settings(max_examples=80, deadline=None)
@given(windows(), st.integers(1, 5))
def test_cumulative_matches_reference(case, steps):
    events, w, h, t0, t1 = case
    got = cumulative_stack(events, w, h, steps, t0, t1)
    assert tuple(got.shape) == CumulativeStack(w, h, steps).shape
    np.testing.assert_array_equal(got.numpy(), ref_cumulative(events, w, h, steps, t0, t1))
