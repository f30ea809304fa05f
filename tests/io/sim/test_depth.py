"""Depth scenes in MVSEC's layout: the events read back, the ground truth and the poses."""

import h5py
import numpy as np

from spikesight.io import open_source
from spikesight.io.emulator import EmulatorConfig
from spikesight.io.mvsec import MvsecReader
from spikesight.io.sim.depth import DepthScene
from spikesight.io.sim.recordings import write_depth
from spikesight.io.sim.runner import run


def test_mvsec_files_read_back(tmp_path):
    emu = EmulatorConfig(shot_noise_hz=0.1, seed=3)
    info = write_depth(tmp_path / "seq", 9, 0.25, emulator=emu)
    want = np.concatenate([fr.events for fr in run(DepthScene(9), 0.25, 200.0, emu)])
    with open_source(info["events"]) as src:
        assert isinstance(src, MvsecReader)
        assert (src.info.width, src.info.height) == (346, 260)
        got = np.concatenate(list(src))
    assert len(got) == len(want) == info["event_count"] > 1000
    np.testing.assert_array_equal(got["x"], want["x"])
    np.testing.assert_array_equal(got["y"], want["y"])
    np.testing.assert_array_equal(got["p"], want["p"])
    np.testing.assert_array_equal(got["t"] - 1_500_000_000_000_000, want["t"])
    with h5py.File(info["events"]) as f:
        ev = f["davis/left/events"][()]
        assert set(np.unique(ev[:, 3]).tolist()) == {-1.0, 1.0}
        ts = f["davis/left/image_raw_ts"][()]
        inds = f["davis/left/image_raw_event_inds"][()]
        assert f["davis/left/image_raw"].shape == (6, 260, 346)
        assert f["davis/left/image_raw"].dtype == np.uint8
        np.testing.assert_array_equal(inds, np.searchsorted(ev[:, 2], ts) - 1)
    with h5py.File(info["ground_truth"]) as f:
        left = f["davis/left"]
        depth = left["depth_image_raw"][()]
        assert depth.shape == (6, 260, 346) and depth.dtype == np.float32
        np.testing.assert_allclose(left["depth_image_raw_ts"][()], 1.5e9 + np.arange(6) * 0.05)
        np.testing.assert_array_equal(left["depth_image_rect"][()], depth)
        assert left["pose"].shape == (6, 4, 4)
        assert np.isnan(depth[:, 0]).mean() > 0.2  # the sky at the top
        finite = depth[np.isfinite(depth)]
        assert finite.min() > 0.3 and not np.isnan(depth[:, -1]).any()  # the ground at the bottom


def test_pose_maps_camera_points_to_the_world():
    scene = DepthScene(5)
    for _ in range(3):
        scene.advance(0.1)
    scene.render()
    depth = scene.depth()
    pose = scene.pose()
    cam = scene.cam
    for py, px in [(250, 20), (200, 300), (140, 173)]:
        d = float(depth[py, px])
        assert np.isfinite(d)
        point_cam = np.array([(px + 0.5 - cam.cx) / cam.f * d, (py + 0.5 - cam.cy) / cam.f * d, d, 1.0])
        world = pose @ point_cam
        uv, zc = cam.project(world[:3])
        np.testing.assert_allclose(uv, [px + 0.5, py + 0.5], atol=1e-6)
        np.testing.assert_allclose(zc, d, rtol=1e-5)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
