"""``spikesight depth FILE``: the .npz format, map times, --every, the video, any readable file."""

from __future__ import annotations

import argparse
import zipfile

import h5py
import numpy as np
import pytest

from spikesight.io import write_events
from spikesight.io.events import make_events
from spikesight.perception.depth.cli import NpzMapWriter, add_depth_parser

from .test_pipeline import REP, tiny_weights

ORIGIN_S = 1.5e9


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="spikesight")
    add_depth_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["depth", *argv])
    return args.func(args)


def mvsec_file(tmp_path, width=30, height=18, seconds=0.06, seed=0):
    """A ``_data.hdf5`` in MVSEC's layout (float64 [x, y, t s, p +-1]), events from 5 ms to the end."""
    rng = np.random.default_rng(seed)
    n = 3000
    t = np.sort(rng.uniform(0.005, seconds, n))
    rows = np.column_stack([rng.integers(0, width, n), rng.integers(0, height, n), ORIGIN_S + t,
                            rng.choice([-1.0, 1.0], n)])
    path = tmp_path / "rec_data.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("davis/left/events", data=rows)
    return path, rows


def test_npz_holds_one_map_per_window_at_sensor_geometry(tmp_path):
    weights, _ = tiny_weights(tmp_path)  # trained geometry 20x12, 10 ms windows
    path, rows = mvsec_file(tmp_path)
    out = tmp_path / "d.npz"
    assert run(str(path), "--weights", str(weights), "--out", str(out), "-q") == 0
    with np.load(out) as z:
        assert sorted(z.files) == ["depth", "t"]
        t, depth = z["t"], z["depth"]
    first = round(rows[0, 2] * 1e6)
    last = round(rows[-1, 2] * 1e6)
    assert t.dtype == np.int64 and depth.dtype == np.float32
    # windows of 10 ms from the first event; t is each window's end, in the file's microseconds
    expected = first + 10_000 * np.arange(1, (last - first) // 10_000 + 2)
    np.testing.assert_array_equal(t, expected)
    # MVSEC files do not store their geometry: the reader's is the DAVIS346's
    assert depth.shape == (len(t), 260, 346) and np.isfinite(depth).all()
    assert depth.min() > 1.9 and depth.max() <= 80.0 + 1e-3


def test_every_keeps_fewer_maps_and_video_is_written(tmp_path):
    cv2 = pytest.importorskip("cv2")
    weights, _ = tiny_weights(tmp_path)
    path, _ = mvsec_file(tmp_path)
    out, video = tmp_path / "d.npz", tmp_path / "d.mp4"
    run(str(path), "--weights", str(weights), "--out", str(out), "--video", str(video), "--every", "30", "-q")
    with np.load(out) as z:
        t = z["t"]
    assert len(t) == 2 and np.all(np.diff(t) == 30_000)  # 5 windows of 10 ms over 55 ms: the 1st and 4th
    cap = cv2.VideoCapture(str(video))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    cap.release()
    assert frames == len(t) and width == 2 * 346 + 4


def test_any_readable_file_and_its_geometry(tmp_path):
    weights, _ = tiny_weights(tmp_path)
    rng = np.random.default_rng(1)
    n = 500
    ev = make_events(rng.integers(0, 24, n), rng.integers(0, 16, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(1_000, 41_000, n)))
    path = tmp_path / "ev.npy"
    write_events(path, ev, 24, 16)
    out = tmp_path / "d.npz"
    run(str(path), "--weights", str(weights), "--out", str(out), "-q", "--per-window")
    with np.load(out) as z:
        assert z["depth"].shape[1:] == (16, 24)
        first = int(ev["t"][0])  # windows start at the first event
        np.testing.assert_array_equal(z["t"], first + 10_000 * np.arange(1, 5))


def test_npz_writer_is_a_plain_npz_even_when_empty(tmp_path):
    w = NpzMapWriter(tmp_path / "e.npz", 5, 3)
    w.close()
    with np.load(tmp_path / "e.npz") as z:
        assert z["t"].shape == (0,) and z["depth"].shape == (0, 3, 5)
    w = NpzMapWriter(tmp_path / "f.npz", 5, 3)
    maps = np.arange(30, dtype=np.float32).reshape(2, 3, 5)
    maps[1, 0, 0] = np.nan
    w.write(7, maps[0])
    w.write(9, maps[1])
    with pytest.raises(ValueError, match="shape"):
        w.write(11, np.zeros((5, 3), np.float32))
    w.close()
    with np.load(tmp_path / "f.npz") as z:
        np.testing.assert_array_equal(z["t"], [7, 9])
        np.testing.assert_array_equal(z["depth"], maps)
    assert zipfile.is_zipfile(tmp_path / "f.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npz", "f.npz"]  # no temporary left


def test_missing_weights_or_file_fail_clearly(tmp_path):
    from spikesight.perception.weights import WeightsError

    path, _ = mvsec_file(tmp_path)
    with pytest.raises(WeightsError, match="no such weights"):
        run(str(path), "--weights", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.npz"), "-q")
    weights, _ = tiny_weights(tmp_path)
    with pytest.raises(FileNotFoundError):
        run(str(tmp_path / "nofile.hdf5"), "--weights", str(weights), "-q")
    assert REP.window_us == 10_000
