"""DetectionInput: the window before a time, the two representations, sizes and box maps."""

import json
import math

import numpy as np
import pytest
import torch

from spikesight.io import make_events
from spikesight.perception.detection.inputs import DetectionInput


def test_for_sensor_sizes_and_modes():
    full = DetectionInput.for_sensor(304, 240)
    assert (full.width, full.height, full.mode) == (320, 256, "pad")
    half = DetectionInput.for_sensor(304, 240, scale=0.5, steps=3)
    assert (half.width, half.height, half.mode) == (160, 128, "scale")
    assert half.shape == (3, 3, 128, 160)
    assert DetectionInput.for_sensor(304, 240, representation="histogram").channels == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"representation": "voxel"},
        {"steps": 0},
        {"window_us": 0},
        {"width": 300},
        {"width": 288, "mode": "pad"},  # cannot pad 304 wide into 288
        {"mode": "crop"},
    ],
)
def test_bad_settings_raise(kwargs):
    with pytest.raises(ValueError):
        DetectionInput(**kwargs)


def test_spikeyolo_window_ends_before_t_end():
    # window 400 µs, 4 steps of 100 µs, ending at t_end = 1000: [600, 1000)
    inp = DetectionInput("spikeyolo", 4, 400, 304, 240, 320, 256, "pad")
    ev = make_events(
        [1, 2, 3, 4, 5],
        [0, 0, 0, 0, 0],
        [1, 1, 0, 1, 1],
        [599, 600, 750, 999, 1000],  # first and last are outside the window
    )
    x = inp(ev, 1000)
    assert x.shape == (4, 3, 256, 320)
    grey = 127 / 255
    assert torch.all(x[:, 0, 0, 2] == torch.tensor([1.0, grey, grey, grey]))  # ON at 600 in step 0
    assert torch.all(x[:, 0, 0, 3] == torch.tensor([grey, 0.0, grey, grey]))  # OFF at 750 in step 1
    assert torch.all(x[:, 0, 0, 4] == torch.tensor([grey, grey, grey, 1.0]))  # ON at 999 in step 3
    assert torch.all(x[:, :, 0, 1] == grey) and torch.all(x[:, :, 0, 5] == grey)
    assert torch.equal(x[:, 0], x[:, 2])  # identical channels
    assert int((x != grey).sum()) == 3 * 3


def test_histogram_counts_per_step_and_polarity():
    inp = DetectionInput("histogram", 2, 200, 304, 240, 320, 256, "pad")
    ev = make_events([7, 7, 7, 9], [3, 3, 3, 4], [1, 1, 0, 1], [810, 820, 950, 1100])
    x = inp(ev, 1000)
    assert x.shape == (2, 2, 256, 320)
    one, two = math.log(2) / math.log(11), math.log(3) / math.log(11)
    assert x[0, 1, 3, 7].item() == pytest.approx(two)  # two ON events in step 0
    assert x[1, 0, 3, 7].item() == pytest.approx(one)  # one OFF event in step 1
    assert int((x != 0).sum()) == 2  # the event at 1100 is after t_end


def test_histogram_clamps_at_cutoff():
    inp = DetectionInput("histogram", 1, 1000, 304, 240, 320, 256, "pad")
    ev = make_events([0] * 30, [0] * 30, [1] * 30, list(range(30)))
    assert inp(ev, 1000)[0, 1, 0, 0].item() == pytest.approx(1.0)


def test_half_size_maps_coordinates():
    inp = DetectionInput.for_sensor(304, 240, scale=0.5, representation="histogram", steps=1, window_us=10)
    ev = make_events([303, 0], [239, 0], [1, 0], [5, 6])
    x = inp(ev, 10)
    assert x.shape == (1, 2, 128, 160)
    assert x[0, 1, 127, 159] > 0 and x[0, 0, 0, 0] > 0
    assert int((x != 0).sum()) == 2


def test_empty_window():
    inp = DetectionInput.for_sensor(304, 240, representation="histogram")
    x = inp(make_events([], [], [], []), 500_000)
    assert x.shape == (4, 2, 256, 320) and not x.any()


def test_boxes_round_trip():
    inp = DetectionInput.for_sensor(304, 240, scale=0.5)
    boxes = np.array([[10.0, 20.0, 110.0, 220.0], [0.0, 0.0, 304.0, 240.0]])
    model = inp.boxes_to_model(boxes)
    assert np.allclose(model[1], [0, 0, 160, 128])
    assert np.allclose(model[0], [10 * 160 / 304, 20 * 128 / 240, 110 * 160 / 304, 220 * 128 / 240])
    assert np.allclose(inp.boxes_to_sensor(model), boxes)
    t = inp.boxes_to_model(torch.tensor(boxes, dtype=torch.float32))
    assert torch.allclose(t, torch.tensor(model, dtype=torch.float32))
    padded = DetectionInput.for_sensor(304, 240)
    assert np.allclose(padded.boxes_to_model(boxes), boxes)


def test_dict_round_trip_through_json():
    inp = DetectionInput.for_sensor(346, 260, 0.5, representation="histogram", steps=3, window_us=100_000)
    assert DetectionInput.from_dict(json.loads(json.dumps(inp.to_dict()))) == inp
    with pytest.raises(ValueError, match="unknown"):
        DetectionInput.from_dict({**inp.to_dict(), "colour": "red"})
