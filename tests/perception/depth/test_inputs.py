"""DepthInput: tensors worked out by hand, geometry (downscale, padding) and the way back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesight.io.events import make_events
from spikesight.perception.depth.inputs import DepthInput
from spikesight.perception.representations import VoxelGrid


def test_multistep_counts_every_event_since_the_window_start():
    # window [100, 140), T = 4: parts end at 110, 120, 130, 140
    ev = make_events([0, 1, 1, 2, 0, 3], [0, 0, 1, 1, 0, 0], [1, 0, 1, 1, 1, 0],
                     [90, 100, 115, 125, 139, 140])
    x = DepthInput("multistep", steps=4, width=4, height=2, multiple=1)(ev, 100, 140)
    assert x.shape == (4, 2, 2, 4) and x.dtype == torch.float32
    off, on = x[:, 0], x[:, 1]
    assert [int(off[k, 0, 1]) for k in range(4)] == [1, 1, 1, 1]  # (1, 0) OFF at 100
    assert [int(on[k, 1, 1]) for k in range(4)] == [0, 1, 1, 1]  # (1, 1) ON at 115
    assert [int(on[k, 1, 2]) for k in range(4)] == [0, 0, 1, 1]  # (2, 1) ON at 125
    assert [int(on[k, 0, 0]) for k in range(4)] == [0, 0, 0, 1]  # (0, 0) ON at 139; the one at 90 is outside
    assert [float(x[k].sum()) for k in range(4)] == [1, 2, 3, 4]  # the event at 140 is outside too


def test_voxel_is_e2depth_grid_repeated_over_steps():
    rng = np.random.default_rng(0)
    n = 200
    ev = make_events(rng.integers(0, 20, n), rng.integers(0, 10, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(0, 1000, n)))
    rep = DepthInput("voxel", steps=3, bins=5, width=20, height=10)
    x = rep(ev, 0, 1000)
    assert x.shape == (3, 5, 16, 24) and rep.channels == 5
    ref = VoxelGrid(20, 10, bins=5, span="events", normalise=True)(ev, 0, 1000)
    for k in range(3):
        torch.testing.assert_close(x[k, :, :10, :20], ref)
    assert not x[:, :, 10:].any() and not x[:, :, :, 20:].any()
    nz = ref[ref != 0].double()
    assert abs(float(nz.mean())) < 1e-5 and abs(float(nz.std(unbiased=False)) - 1) < 1e-5


def test_geometry_padding_and_downscale():
    assert DepthInput().model_size == (352, 264) and DepthInput().shape == (5, 2, 264, 352)
    half = DepthInput(downscale=2)
    assert half.scaled_size == (173, 130) and half.model_size == (176, 136)
    ev = make_events([345, 344, 0], [259, 258, 1], [1, 1, 0], [0, 1, 2])
    x = half(ev, 0, 10)[-1]
    assert x[1, 129, 172] == 2 and x[0, 0, 0] == 1 and x.sum() == 3
    with pytest.raises(ValueError, match="outside the 346x260 sensor"):
        half(make_events([346], [0], [1], [0]), 0, 10)


def test_to_sensor_crops_padding_and_upsamples():
    rep = DepthInput(width=10, height=6, downscale=2)  # 5x3 scaled, 8x8 model input
    y = torch.full((2, 1, 8, 8), 99.0)  # the padding never reaches the sensor
    y[..., :3, :5] = (5 * torch.arange(3.0)[:, None] + torch.arange(5.0)).expand(2, 1, 3, 5)
    out = rep.to_sensor(y)
    assert out.shape == (2, 1, 6, 10)
    # bilinear x2, pixel centres aligned: sensor pixel i sits at model coordinate (i + 0.5) / 2 - 0.5,
    # clamped at the borders; on the linear ramp 5 r + c the result is that ramp at those coordinates
    r = np.clip((np.arange(6) + 0.5) / 2 - 0.5, 0, 2)
    c = np.clip((np.arange(10) + 0.5) / 2 - 0.5, 0, 4)
    np.testing.assert_allclose(out[1, 0].numpy(), 5 * r[:, None] + c[None, :], atol=1e-5)
    same = DepthInput(width=10, height=6)  # no downscale: 16x8 model input, cropped to 10x6
    y16 = torch.arange(128.0).reshape(1, 1, 8, 16)
    torch.testing.assert_close(same.to_sensor(y16), y16[..., :6, :10])


def test_dict_round_trip_and_bad_values():
    rep = DepthInput("voxel", steps=2, bins=4, window_us=20_000, width=30, height=20, downscale=2)
    assert DepthInput.from_dict(rep.to_dict()) == rep
    assert rep.with_sensor(40, 30).model_size == (24, 16)
    with pytest.raises(ValueError, match="unknown DepthInput keys"):
        DepthInput.from_dict({**rep.to_dict(), "colour": 1})
    for bad in ({"representation": "frames"}, {"steps": 0}, {"window_us": -1}, {"downscale": 0},
                {"width": 0}):
        with pytest.raises(ValueError):
            DepthInput(**bad)


def test_empty_window_is_zeros():
    for kind in ("multistep", "voxel"):
        x = DepthInput(kind, steps=2, width=8, height=8)(make_events([], [], [], []), 0, 50_000)
        assert x.shape[0] == 2 and not x.any()
