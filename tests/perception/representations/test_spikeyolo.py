"""SpikeYOLO's Gen1 frames against hand-worked values and a per-event python loop."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import SpikeYOLOFrames, spikeyolo_frames

from .strategies import ref_window, windows


def ref_spikeyolo(events, width, height, steps, channels, t0, t1):
    rows, t0, t1 = ref_window(events, t0, t1)
    out = np.full((steps, channels, height, width), 127, dtype=np.int64)
    for x, y, pol, t in rows:  # in array order: the latest event paints last
        k = (t - t0) * steps // (t1 - t0)
        out[k, :, y, x] = 255 if pol else 0
    return out


def test_hand_worked_slices():
    # window [0, 100), 2 slices of 50 µs. Pixel (0, 0): ON at 10 then OFF at 20 -> OFF (0);
    # pixel (1, 0): OFF at 49 in slice 0, ON at 50 (edge) in slice 1; pixel (2, 0) quiet.
    ev = make_events([0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 0, 1], [10, 20, 49, 50])
    out = SpikeYOLOFrames(3, 1, steps=2, normalise=False)(ev, 0, 100)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 1, 3)
    assert out[0, 0, 0].tolist() == [0, 0, 127]
    assert out[1, 0, 0].tolist() == [127, 255, 127]
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])


def test_normalised_values_are_divided_by_255():
    ev = make_events([0, 1], [0, 0], [1, 0], [0, 1])
    out = SpikeYOLOFrames(3, 1, steps=1, channels=1)(ev)
    assert out.dtype == torch.float32
    assert out.reshape(-1).tolist() == pytest.approx([1.0, 0.0, 127 / 255])


def test_same_timestamp_last_in_array_wins():
    ev = make_events([0, 0], [0, 0], [0, 1], [5, 5])
    assert SpikeYOLOFrames(1, 1, steps=1, channels=1, normalise=False)(ev).item() == 255


def test_empty_window_is_all_grey():
    out = SpikeYOLOFrames(4, 3, steps=5, normalise=False)(make_events([], [], [], []))
    assert out.shape == (5, 3, 3, 4) and bool((out == 127).all())


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"steps": 2, "channels": 0}])
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        SpikeYOLOFrames(4, 4, **kwargs)


def test_event_off_the_sensor_raises():
    with pytest.raises(ValueError, match="outside"):
        SpikeYOLOFrames(2, 2, steps=2)(make_events([2], [0], [1], [0]))


@settings(max_examples=80, deadline=None)
@given(windows(), st.integers(1, 5), st.integers(1, 3))
def test_matches_reference(case, steps, channels):
    events, w, h, t0, t1 = case
    got = spikeyolo_frames(events, w, h, steps, channels, False, t0, t1)
    assert tuple(got.shape) == SpikeYOLOFrames(w, h, steps, channels).shape
    np.testing.assert_array_equal(got.numpy(), ref_spikeyolo(events, w, h, steps, channels, t0, t1))
