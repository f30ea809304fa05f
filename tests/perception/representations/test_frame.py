"""Event frames against hand-worked values and a per-event python loop."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import EventFrame, event_frame

from .strategies import ref_window, windows


def ref_frame(events, width, height, mode, t0, t1):
    rows, _, _ = ref_window(events, t0, t1)
    out = np.zeros((1 if mode == "signed" else 2, height, width))
    for x, y, pol, _ in rows:
        if mode == "signed":
            out[0, y, x] += 1 if pol else -1
        elif mode == "binary":
            out[pol, y, x] = 1
        else:
            out[pol, y, x] += 1
    return out


def test_hand_worked_counts():
    # ON twice at (1, 0), OFF once at (0, 1), ON at (0, 1) at t = t1 (excluded)
    ev = make_events([1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 1], [0, 3, 4, 9])
    out = EventFrame(2, 2)(ev, 0, 9)
    assert out.dtype == torch.float32 and out.shape == (2, 2, 2)
    assert out[0].tolist() == [[0, 0], [1, 0]]
    assert out[1].tolist() == [[0, 2], [0, 0]]
    assert EventFrame(2, 2, "signed")(ev, 0, 9).tolist() == [[[0, 2], [-1, 0]]]
    assert EventFrame(2, 2, "binary")(ev, 0, 9)[1].tolist() == [[0, 1], [0, 0]]


def test_polarity_above_zero_is_on():
    ev = make_events([0, 0], [0, 0], [-1, 5], [0, 1])
    assert EventFrame(1, 1)(ev).reshape(-1).tolist() == [1.0, 1.0]


def test_empty_window_gives_zeros():
    ev = make_events([0], [0], [1], [10])
    assert not EventFrame(3, 2)(ev, 20, 30).any()
    assert not EventFrame(3, 2, "signed")(make_events([], [], [], [])).any()


@pytest.mark.parametrize("mode", ["count", "signed", "binary"])
def test_event_off_the_sensor_raises(mode):
    ev = make_events([0, 3], [0, 0], [1, 1], [0, 1])
    with pytest.raises(ValueError, match="outside the 3x2 sensor"):
        EventFrame(3, 2, mode)(ev)


@pytest.mark.parametrize("mode", ["count", "signed", "binary"])
def test_unsorted_events_raise(mode):
    ev = make_events([0, 1, 2], [0, 0, 0], [1, 1, 0], [5, 3, 6])
    with pytest.raises(ValueError, match="not sorted"):
        EventFrame(3, 1, mode)(ev)


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 0, "height": 2}, {"width": 2, "height": -1}, {"width": 2, "height": 2, "mode": "sum"}],
)
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        EventFrame(**kwargs)


def test_shape_property_matches_output():
    ev = make_events([1], [1], [1], [0])
    for mode in ("count", "signed", "binary"):
        f = EventFrame(4, 3, mode)
        assert tuple(f(ev).shape) == f.shape


@settings(max_examples=80, deadline=None)
@given(windows(), st.sampled_from(["count", "signed", "binary"]))
def test_matches_reference(case, mode):
    events, w, h, t0, t1 = case
    got = event_frame(events, w, h, mode, t0, t1)
    np.testing.assert_array_equal(got.numpy(), ref_frame(events, w, h, mode, t0, t1))
