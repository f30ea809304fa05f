"""T-step frame sequences against hand-worked values and a per-event python loop."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import FrameSequence, frame_sequence

from .strategies import ref_window, windows


def ref_sequence(events, width, height, steps, mode, t0, t1):
    rows, t0, t1 = ref_window(events, t0, t1)
    out = np.zeros((steps, 2, height, width))
    for x, y, pol, t in rows:
        k = (t - t0) * steps // (t1 - t0)
        out[k, pol, y, x] = 1 if mode == "binary" else out[k, pol, y, x] + 1
    return out


def test_hand_worked_sequence():
    # window [0, 30), 3 steps of 10 µs; events at 0, 9, 10 (edge -> step 1), 29, 30 (excluded)
    ev = make_events([0, 0, 1, 2, 2], [0, 0, 0, 0, 0], [1, 1, 0, 1, 1], [0, 9, 10, 29, 30])
    out = FrameSequence(3, 1, steps=3)(ev, 0, 30)
    assert out.shape == (3, 2, 1, 3)
    assert out[0, 1, 0].tolist() == [2, 0, 0]
    assert out[1, 0, 0].tolist() == [0, 1, 0]
    assert out[2, 1, 0].tolist() == [0, 0, 1]
    assert out.sum().item() == 4
    assert FrameSequence(3, 1, steps=3, mode="binary")(ev, 0, 30)[0, 1, 0].tolist() == [1, 0, 0]


def test_bad_configuration_raises():
    with pytest.raises(ValueError):
        FrameSequence(4, 4, steps=0)


def test_bad_mode_raises():
    with pytest.raises(ValueError):
        FrameSequence(4, 4, steps=2, mode="sum")


@settings(max_examples=80, deadline=None)
@given(windows(), st.integers(1, 5), st.sampled_from(["count", "binary"]))
def test_sequence_matches_reference(case, steps, mode):
    events, w, h, t0, t1 = case
    got = frame_sequence(events, w, h, steps, mode, t0, t1)
    assert tuple(got.shape) == FrameSequence(w, h, steps, mode).shape
    np.testing.assert_array_equal(got.numpy(), ref_sequence(events, w, h, steps, mode, t0, t1))


def test_wall_clock_timestamps_bin_exactly():
    # µs since 1970 (about 1.7e15): edges at base + 25 000 must stay exact
    base = 1_700_000_000_000_000
    ev = make_events([0, 0, 0], [0, 0, 0], [1, 1, 1], [base + 24_999, base + 25_000, base + 49_999])
    out = FrameSequence(1, 1, steps=2)(ev, base, base + 50_000)
    assert out[:, 1, 0, 0].tolist() == [1, 2]
