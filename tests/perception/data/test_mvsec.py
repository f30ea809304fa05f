"""MVSEC depth dataset: files written by hand in MVSEC's exact HDF5 layout (h5py, not our writer)."""

from __future__ import annotations

import math
import pickle
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io.errors import CoordinateError, EventFormatError, TimeOrderError
from spikesight.io.events import EVENT_DTYPE
from spikesight.perception.data import mvsec as mv
from spikesight.perception.data.mvsec import MvsecDepth, MvsecLayoutError, Recording, split_recordings
from spikesight.perception.depth.inputs import DepthInput

ORIGIN = 1.5e9  # MVSEC stores absolute ROS time in seconds


def write_mvsec(folder: Path, name: str, rows: np.ndarray, depth: np.ndarray, depth_ts_s: np.ndarray,
                chunks: bool = True) -> Recording:
    """``<name>_data.hdf5`` + ``<name>_gt.hdf5`` exactly as MVSEC's converter lays them out."""
    folder.mkdir(parents=True, exist_ok=True)
    data, gt = folder / f"{name}_data.hdf5", folder / f"{name}_gt.hdf5"
    with h5py.File(data, "w") as f:
        kw = {"chunks": (max(1, min(len(rows), 7)), 4)} if chunks and len(rows) else {}
        f.create_dataset("davis/left/events", data=np.asarray(rows, np.float64).reshape(-1, 4), **kw)
        f.create_dataset("davis/right/events", data=np.zeros((0, 4)))
    with h5py.File(gt, "w") as f:
        f.create_dataset("davis/left/depth_image_raw", data=np.asarray(depth, np.float32))
        f.create_dataset("davis/left/depth_image_raw_ts", data=np.asarray(depth_ts_s, np.float64))
    return Recording(name, data, gt)


def random_recording(rng: np.random.Generator, width: int, height: int, n: int, maps: int,
                     period_us: int = 10_000, signed: bool = True):
    """Time-sorted rows ``[x, y, t_s, p]`` (some on map times exactly), depth maps and their times."""
    span = period_us * (maps - 1)
    t_us = np.sort(rng.integers(-3_000, span + 3_000, n))
    ts_us = np.arange(maps) * period_us
    t_us[: min(n, maps)] = ts_us[: min(n, maps)]  # events exactly on map times
    t_us.sort()
    on = rng.random(n) < 0.5
    p = np.where(on, 1.0, -1.0 if signed else 0.0)
    rows = np.column_stack([rng.integers(0, width, n), rng.integers(0, height, n),
                            ORIGIN + t_us * 1e-6, p]).astype(np.float64)
    depth = rng.uniform(1.0, 100.0, (maps, height, width)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.3] = np.nan
    return rows, depth, ORIGIN + ts_us * 1e-6


def slow_window(rows: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """The reference: every row whose time in whole µs lies in [t0, t1), one at a time."""
    out = []
    for x, y, t, p in rows:
        tu = round(t * 1e6)
        if t0 <= tu < t1:
            out.append((int(x), int(y), 1 if p > 0 else 0, tu))
    ev = np.zeros(len(out), EVENT_DTYPE)
    for i, (x, y, p, t) in enumerate(out):
        ev[i] = (x, y, p, t)
    return ev


@pytest.mark.parametrize("signed", [True, False], ids=["pm1", "01"])
@pytest.mark.parametrize("coarse", [4, 1 << 16])
def test_windows_match_slow_reference(tmp_path, rng, monkeypatch, signed, coarse):
    monkeypatch.setattr(mv, "COARSE_ROWS", coarse)
    w, h, maps = 12, 8, 9
    rows, depth, ts = random_recording(rng, w, h, 400, maps, signed=signed)
    rec = write_mvsec(tmp_path, "seq", rows, depth, ts)
    rep = DepthInput(steps=3, width=w, height=h)
    ds = MvsecDepth([rec], rep)
    assert [k for _, k in ds.items] == list(range(1, maps))  # map 0 has no events before it
    ts_us = [round(t * 1e6) for t in ts]
    for i, (_, k) in enumerate(ds.items):
        ref = slow_window(rows, ts_us[k - 1], ts_us[k])
        ev, t0, t1 = ds.window(i)
        assert (t0, t1) == (ts_us[k - 1], ts_us[k])
        np.testing.assert_array_equal(ev, ref)
        item = ds[i]
        assert item["t"] == ts_us[k] and item["map"] == k and item["recording"] == 0
        np.testing.assert_array_equal(item["input"].numpy(), rep(ref, t0, t1).numpy())
        np.testing.assert_array_equal(item["depth"][0].numpy(), depth[k])


def test_fixed_window_before_each_map(tmp_path, rng):
    w, h, maps = 10, 6, 8
    rows, depth, ts = random_recording(rng, w, h, 300, maps)
    rec = write_mvsec(tmp_path, "seq", rows, depth, ts)
    ds = MvsecDepth([rec], DepthInput(width=w, height=h), window_us=4_000)
    first = round(rows[0, 2] * 1e6)
    ts_us = [round(t * 1e6) for t in ts]
    assert [k for _, k in ds.items] == [k for k in range(maps) if ts_us[k] - 4_000 >= first]
    for i, (_, k) in enumerate(ds.items):
        np.testing.assert_array_equal(ds.window(i)[0], slow_window(rows, ts_us[k] - 4_000, ts_us[k]))


def test_target_and_mask_worked_by_hand(tmp_path):
    # D_log = clip(1 + ln(D / 80) / 3.7, 0, 1): 80 m -> 1, 80 e^-1.85 m -> 0.5, 1 m -> 0 (clipped), 200 m -> 1
    d = np.array([[80.0, 80 * math.exp(-1.85), 1.0], [200.0, np.nan, 0.0]], np.float32)
    rows = np.array([[0, 0, ORIGIN + 0.001, 1], [2, 1, ORIGIN + 0.015, 0]], np.float64)
    rec = write_mvsec(tmp_path, "s", rows, np.stack([d, d]), np.array([ORIGIN, ORIGIN + 0.02]))
    item = MvsecDepth([rec], DepthInput(width=3, height=2))[0]
    np.testing.assert_array_equal(item["mask"][0].numpy(), [[True, True, True], [True, False, False]])
    np.testing.assert_allclose(item["target"][0].numpy(), [[1.0, 0.5, 0.0], [1.0, 0.0, 0.0]], atol=1e-6)
    depth = item["depth"][0].numpy()
    assert np.isnan(depth[1, 1]) and depth[1, 2] == 0
    # ON is p > 0: the p = 0 event at (2, 1) counts as OFF (channel 0), the p = 1 one as ON
    last = item["input"][-1]
    assert last[1, 0, 0] == 1 and last[0, 1, 2] == 1 and last.sum() == 2


def test_real_geometry_and_simulator_layout(tmp_path):
    from spikesight.io.events import make_events
    from spikesight.io.sim.mvsec_writer import MvsecWriter

    with MvsecWriter(tmp_path / "sim", 346, 260) as wr:
        wr.write_depth(0, np.full((260, 346), 10.0, np.float32))
        wr.write(make_events([0, 345, 100], [0, 259, 50], [1, 0, 1], [10, 20_000, 49_999]))
        wr.write_depth(50_000, np.full((260, 346), np.nan, np.float32))
    rec = Recording("sim", tmp_path / "sim_data.hdf5", tmp_path / "sim_gt.hdf5")
    item = MvsecDepth([rec], DepthInput())[0]
    assert item["input"].shape == (5, 2, 264, 352)
    assert item["input"][-1].sum() == 3 and item["input"][-1, 0, 259, 345] == 1
    assert not item["mask"].any()


def test_split_folders_and_mvsec_names(tmp_path, rng):
    rows, depth, ts = random_recording(rng, 4, 3, 50, 20)
    for split in ("train", "val", "test"):
        write_mvsec(tmp_path / "sim" / split, f"clip_{split}", rows, depth, ts)
    assert [r.name for r in split_recordings(tmp_path / "sim", "val")] == ["clip_val"]
    for name in ("outdoor_day1", "outdoor_day2", "outdoor_night1", "indoor_flying1"):
        write_mvsec(tmp_path / "mvsec", name, rows, depth, ts)
    root = tmp_path / "mvsec"
    assert [r.name for r in split_recordings(root, "test")] == ["outdoor_day1", "outdoor_night1"]
    train, val = split_recordings(root, "train"), split_recordings(root, "val")
    assert [r.name for r in train] == [r.name for r in val] == ["outdoor_day2"]
    rep = DepthInput(width=4, height=3)
    k_train = [k for _, k in MvsecDepth(train, rep).items]
    k_val = [k for _, k in MvsecDepth(val, rep).items]
    assert k_train == list(range(1, 18)) and k_val == [18, 19]  # the last 10 % of 20 maps held out
    (root / "outdoor_night1_gt.hdf5").unlink()
    with pytest.raises(MvsecLayoutError, match=r"outdoor_night1_data\.hdf5.*ground truth"):
        split_recordings(root, "test")
    with pytest.raises(MvsecLayoutError, match=r"outdoor_day2_data\.hdf5"):
        split_recordings(tmp_path / "sim" / "train", "train")


def _good(tmp_path: Path, rng) -> Recording:
    rows, depth, ts = random_recording(rng, 6, 4, 40, 4)
    return write_mvsec(tmp_path, "good", rows, depth, ts)


def test_missing_or_misshapen_datasets_name_the_file(tmp_path, rng):
    rec = _good(tmp_path, rng)
    rep = DepthInput(width=6, height=4)
    with h5py.File(rec.data_path, "a") as f:
        del f["davis/left/events"]
        f.create_dataset("davis/left/events", data=np.zeros((5, 3)))
    with pytest.raises(MvsecLayoutError, match=r"good_data\.hdf5.*\(N, 4\).*\(5, 3\)"):
        MvsecDepth([rec], rep)
    with h5py.File(rec.data_path, "a") as f:
        del f["davis/left/events"]
    with pytest.raises(MvsecLayoutError, match=r"good_data\.hdf5.*no davis/left/events"):
        MvsecDepth([rec], rep)
    rec = _good(tmp_path / "b", rng)
    with h5py.File(rec.gt_path, "a") as f:
        del f["davis/left/depth_image_raw"]
        f.create_dataset("davis/left/depth_image_raw", data=np.zeros((4, 24), np.float32))
    with pytest.raises(MvsecLayoutError, match=r"good_gt\.hdf5.*\(M, H, W\)"):
        MvsecDepth([rec], rep)
    rec = _good(tmp_path / "c", rng)
    with h5py.File(rec.gt_path, "a") as f:
        del f["davis/left/depth_image_raw_ts"]
    with pytest.raises(MvsecLayoutError, match=r"good_gt\.hdf5.*depth_image_raw_ts"):
        MvsecDepth([rec], rep)
    rec = _good(tmp_path / "d", rng)
    with pytest.raises(MvsecLayoutError, match=r"good_gt\.hdf5.*6x4.*346x260"):
        MvsecDepth([rec], DepthInput())
    rec.data_path.write_bytes(b"")
    with pytest.raises(EventFormatError, match=r"good_data\.hdf5.*empty"):
        MvsecDepth([rec], rep)


def test_bad_events_name_the_file_and_row(tmp_path):
    depth, ts = np.ones((2, 4, 6), np.float32), np.array([ORIGIN, ORIGIN + 0.01])
    rows = np.array([[0, 0, ORIGIN + 0.001, 1], [6, 0, ORIGIN + 0.002, 1]], np.float64)  # x = 6 is off
    rec = write_mvsec(tmp_path / "a", "x", rows, depth, ts)
    ds = MvsecDepth([rec], DepthInput(width=6, height=4))
    with pytest.raises(CoordinateError, match=r"x_data\.hdf5 at row 1.*\(6, 0\)"):
        ds[0]
    rows = np.array([[0, 0, ORIGIN + 0.002, 1], [1, 0, ORIGIN + 0.001, 1]], np.float64)
    rec = write_mvsec(tmp_path / "b", "y", rows, depth, ts)
    with pytest.raises(TimeOrderError, match=r"y_data\.hdf5.*row 1"):
        MvsecDepth([rec], DepthInput(width=6, height=4))[0]


def test_augmentation_is_a_pure_function_of_index_and_epoch(tmp_path, rng):
    w, h = 12, 8
    rows, depth, ts = random_recording(rng, w, h, 500, 12)
    rec = write_mvsec(tmp_path, "seq", rows, depth, ts)
    rep = DepthInput(steps=2, width=w, height=h)
    plain = MvsecDepth([rec], rep)
    aug = MvsecDepth([rec], rep, augment=True, seed=3)
    flips = 0
    for i in range(len(aug)):
        a, b, ref = aug[i], aug[i], plain[i]
        np.testing.assert_array_equal(a["input"].numpy(), b["input"].numpy())
        flipped = not np.array_equal(a["input"].numpy(), ref["input"].numpy())
        flips += flipped
        if flipped:  # a horizontal flip of input and depth together (the input is padded to 16 wide)
            np.testing.assert_array_equal(a["input"][..., :w].numpy(), ref["input"][..., :w].flip(-1).numpy())
            assert not a["input"][..., w:].any()
            np.testing.assert_array_equal(a["depth"].numpy(), ref["depth"].flip(-1).numpy())
    assert 0 < flips < len(aug)
    before = [aug[i]["input"] for i in range(len(aug))]
    aug.set_epoch(1)
    assert any(not np.array_equal(x.numpy(), aug[i]["input"].numpy()) for i, x in enumerate(before))
    crop = MvsecDepth([rec], rep, augment=True, crop=(8, 4), seed=3)
    item = crop[0]
    assert item["depth"].shape == (1, 4, 8) and item["input"].shape == (2, 2, 8, 8)
    assert item["depth"].numpy().tobytes() == crop[0]["depth"].numpy().tobytes()


def test_pickles_for_loader_workers(tmp_path, rng):
    rows, depth, ts = random_recording(rng, 6, 4, 80, 5)
    ds = MvsecDepth([write_mvsec(tmp_path, "p", rows, depth, ts)], DepthInput(width=6, height=4))
    first = ds[1]["input"]
    copy = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(copy[1]["input"].numpy(), first.numpy())
    ds.close()
    np.testing.assert_array_equal(ds[1]["input"].numpy(), first.numpy())  # reopens


@settings(max_examples=40, deadline=None)
@given(
    t_us=st.lists(st.integers(0, 2_000), min_size=0, max_size=120),
    queries=st.lists(st.integers(-100, 2_100), min_size=1, max_size=12),
    coarse=st.integers(1, 8),
    chunk=st.integers(1, 40),
)
def test_index_search_matches_searchsorted(t_us, queries, coarse, chunk):
    """The coarse-then-block search gives numpy's searchsorted on the rounded times, ties included."""
    t = np.sort(np.asarray(t_us, np.int64))
    rows = np.column_stack([np.zeros(len(t)), np.zeros(len(t)), ORIGIN + t * 1e-6, np.ones(len(t))])
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "q_data.hdf5"
        with h5py.File(f, "w") as h:
            kw = {"chunks": (min(chunk, len(t)), 4)} if len(t) else {}
            h.create_dataset("davis/left/events", data=rows.reshape(-1, 4), **kw)
        g = Path(tmp) / "q_gt.hdf5"
        with h5py.File(g, "w") as h:
            h.create_dataset("davis/left/depth_image_raw", data=np.ones((1, 1, 1), np.float32))
            h.create_dataset("davis/left/depth_image_raw_ts", data=[ORIGIN])
        old = mv.COARSE_ROWS
        mv.COARSE_ROWS = coarse
        try:
            rec = mv.DepthRecording(Recording("q", f, g))
            got = rec._search(round(ORIGIN * 1e6) + np.asarray(queries, np.int64))  # file times are absolute
            rec.close()
        finally:
            mv.COARSE_ROWS = old
    np.testing.assert_array_equal(got, np.searchsorted(t, queries, side="left"))
