"""Fitting events to a model's input, and boxes back to the sensor."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import EventFrame, Resize, fit_to_model


def test_gen1_sizes():
    assert (fit_to_model(304, 240).width, fit_to_model(304, 240).height) == (320, 256)
    scaled = fit_to_model(304, 240, mode="scale")
    assert (scaled.width, scaled.height) == (288, 224)
    r = fit_to_model(304, 240, (256, 192), "scale")
    assert r.scale == (256 / 304, 192 / 240)


def test_size_must_be_a_multiple():
    with pytest.raises(ValueError, match="multiple"):
        fit_to_model(304, 240, (300, 256))


def test_cannot_pad_to_a_smaller_size():
    with pytest.raises(ValueError, match="cannot pad"):
        Resize(304, 240, 288, 256, "pad")


def test_pad_keeps_events_and_frame_lands_top_left():
    ev = make_events([0, 303], [0, 239], [1, 0], [0, 1])
    r = fit_to_model(304, 240)
    out = r(ev)
    assert out is ev or np.array_equal(out, ev)
    frame = EventFrame(r.width, r.height)(out)
    assert frame.shape == (2, 256, 320)
    assert frame[1, 0, 0] == 1 and frame[0, 239, 303] == 1 and frame[:, 240:].sum() == 0


def test_scale_hand_worked():
    # 4 -> 2 columns: sensor 0,1 -> 0; 2,3 -> 1. 3 -> 2 rows: 0 -> 0, 1 -> 0 (2/3), 2 -> 1 (4/3)
    r = Resize(4, 3, 2, 2, "scale")
    out = r(make_events([0, 1, 2, 3], [0, 1, 2, 2], [1, 0, 1, 0], [5, 6, 7, 8]))
    assert out["x"].tolist() == [0, 0, 1, 1]
    assert out["y"].tolist() == [0, 0, 1, 1]
    assert out["p"].tolist() == [1, 0, 1, 0] and out["t"].tolist() == [5, 6, 7, 8]


@pytest.mark.parametrize("mode", ["pad", "scale"])
def test_events_off_the_sensor_raise(mode):
    r = Resize(4, 3, 4 if mode == "scale" else 8, 4, mode)
    with pytest.raises(ValueError, match="outside the 4x3 sensor"):
        r(make_events([4], [0], [1], [0]))


def test_boxes_round_trip_and_clip():
    r = fit_to_model(304, 240, (256, 192), "scale")
    boxes = np.array([[10.0, 20.0, 100.0, 200.0]])
    back = r.boxes_to_sensor(r.boxes_to_model(boxes))
    np.testing.assert_allclose(back, boxes)
    assert r.boxes_to_sensor(torch.tensor([[-5.0, 0.0, 300.0, 192.0]])).tolist() == [[0.0, 0.0, 304.0, 240.0]]
    pad = fit_to_model(304, 240)
    clipped = pad.boxes_to_sensor(np.array([[300.0, 250.0, 319.0, 255.0]]))
    assert clipped.tolist() == [[300.0, 240.0, 304.0, 240.0]]


def test_box_shape_checked():
    with pytest.raises(ValueError):
        fit_to_model(304, 240).boxes_to_sensor(np.zeros((2, 5)))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50), st.integers(1, 50), st.integers(1, 60), st.integers(1, 60), st.data())
def test_scale_matches_reference(sw, sh, w, h, data):
    n = data.draw(st.integers(0, 30))
    xs = data.draw(st.lists(st.integers(0, sw - 1), min_size=n, max_size=n))
    ys = data.draw(st.lists(st.integers(0, sh - 1), min_size=n, max_size=n))
    out = Resize(sw, sh, w, h, "scale")(make_events(xs, ys, [1] * n, list(range(n))))
    assert out["x"].tolist() == [int(Fraction(x * w, sw)) for x in xs]
    assert out["y"].tolist() == [int(Fraction(y * h, sh)) for y in ys]
    # events go to the model pixel that holds their sensor pixel's corner as boxes map it
    r = Resize(sw, sh, w, h, "scale")
    for x, y, mx, my in zip(xs, ys, out["x"].tolist(), out["y"].tolist(), strict=True):
        x1, y1, _, _ = r.boxes_to_model(np.array([x, y, x + 1, y + 1], dtype=float)).tolist()
        assert mx <= x1 + 1e-9 < mx + 1 and my <= y1 + 1e-9 < my + 1
