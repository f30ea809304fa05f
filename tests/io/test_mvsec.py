"""MVSEC ``*_data.hdf5``: files laid out as MVSEC's converter writes them (``/davis/<camera>/events``,
(N, 4) float64 rows ``[x, y, t_seconds, p=±1]`` beside images and IMU), decoded values worked out by
hand, exact microseconds from UNIX-second floats, seeking by bisection, and bad input."""

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import (
    CoordinateError,
    EventFormatError,
    HeaderError,
    TimeOrderError,
    open_source,
    read_events,
)
from spikesight.io.hdf5 import open_hdf5
from spikesight.io.mvsec import MvsecReader

T0 = 1504645177.0  # an outdoor_day-like UNIX time in seconds


def mvsec_file(path, left, right=None, extra=True):
    """Rows as MVSEC stores them: float64 [x, y, t (s), p (±1)], plus the datasets beside them."""
    with h5py.File(path, "w") as f:
        f.create_dataset("davis/left/events", data=np.asarray(left, dtype=np.float64).reshape(-1, 4))
        if right is not None:
            f.create_dataset("davis/right/events", data=np.asarray(right, dtype=np.float64).reshape(-1, 4))
        if extra:
            f.create_dataset(
                "davis/left/image_raw",
                data=np.zeros((2, 260, 346), np.uint8),
                compression="lzf",
                chunks=(1, 260, 346),
            )
            f.create_dataset("davis/left/image_raw_ts", data=np.array([T0, T0 + 0.05]))
            f.create_dataset("davis/left/imu", data=np.zeros((3, 6)))
    return path


def test_golden_rows(tmp_path):
    left = [
        [0, 0, T0 + 0.000001, 1],
        [345, 259, T0 + 0.000001, -1],
        [12, 200, T0 + 0.5, 1],
        [7, 8, T0 + 1.25, -1],
    ]
    path = mvsec_file(tmp_path / "outdoor_day1_data.hdf5", left)
    with open_source(path) as src:
        assert isinstance(src, MvsecReader)
        assert (src.info.width, src.info.height) == (346, 260)
        assert src.info.event_count == 4
        assert src.info.start_time == 1_504_645_177_000_001
        assert src.info.end_time == 1_504_645_178_250_000
        ev = np.concatenate(list(src))
    assert ev["x"].tolist() == [0, 345, 12, 7]
    assert ev["y"].tolist() == [0, 259, 200, 8]
    assert ev["p"].tolist() == [1, 0, 1, 0]
    assert ev["t"].tolist() == [
        1_504_645_177_000_001,
        1_504_645_177_000_001,
        1_504_645_177_500_000,
        1_504_645_178_250_000,
    ]


def test_camera_choice_and_zero_polarity(tmp_path):
    left = [[1, 1, T0, 1]]
    right = [[2, 3, T0 + 0.25, 0], [4, 5, T0 + 0.5, 1]]
    path = mvsec_file(tmp_path / "indoor_flying1_data.hdf5", left, right)
    ev = read_events(path, camera="right")
    assert ev.tolist() == [(2, 3, 0, 1_504_645_177_250_000), (4, 5, 1, 1_504_645_177_500_000)]
    with open_hdf5(path, camera="left") as src:
        assert src.info.metadata["camera"] == "left"
        assert np.concatenate(list(src))["x"].tolist() == [1]
    with pytest.raises(ValueError, match="camera"):
        MvsecReader(path, camera="middle")


@settings(max_examples=60, deadline=None)
@given(
    us=st.lists(st.integers(1_400_000_000_000_000, 1_700_000_000_000_000), min_size=1, max_size=50).map(
        sorted
    )
)
def test_float_seconds_round_to_the_exact_microsecond(tmp_path_factory, us):
    us = np.asarray(us, dtype=np.int64)
    rows = np.zeros((len(us), 4))
    rows[:, 2] = us / 1e6
    rows[:, 3] = 1
    path = mvsec_file(tmp_path_factory.mktemp("m") / "x_data.hdf5", rows, extra=False)
    assert read_events(path)["t"].tolist() == us.tolist()


def test_seek_bisects_without_decoding_the_prefix(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n = 3000
    us = np.sort(rng.integers(0, 2_000_000, n)) + 1_504_645_177_000_000
    rows = np.column_stack(
        [rng.integers(0, 346, n), rng.integers(0, 260, n), us / 1e6, rng.choice([-1.0, 1.0], n)]
    )
    path = mvsec_file(tmp_path / "s_data.hdf5", rows, extra=False)
    src = MvsecReader(path, chunk_events=200)
    reads = []
    orig = src._read_rows
    monkeypatch.setattr(src, "_read_rows", lambda a, b: reads.append(a) or orig(a, b))
    for target in (int(us[0]), int(us[1777]), int(us[1777]) + 1, int(us[-1])):
        reads.clear()
        src.seek(target)
        got = next(src.slices(n_events=4))
        k = np.searchsorted(us, target)
        assert got["t"].tolist() == us[k : k + 4].tolist()
        assert got["x"].tolist() == rows[k : k + 4, 0].astype(int).tolist()
        assert reads[0] == (k // 200) * 200 and len(reads) <= 2
    src.close()


def test_files_without_events_or_with_wrong_shapes(tmp_path):
    gt = tmp_path / "outdoor_day1_gt.hdf5"
    with h5py.File(gt, "w") as f:
        f.create_dataset("davis/left/depth_image_raw", data=np.zeros((1, 260, 346), np.float32))
    with pytest.raises(HeaderError, match="depth_image_raw"):
        open_source(gt)
    path = mvsec_file(tmp_path / "l_data.hdf5", [[1, 1, T0, 1]])
    with pytest.raises(HeaderError, match=r"no /davis/right/events.*cameras with events: \['left'\]"):
        open_source(path, camera="right")
    with h5py.File(tmp_path / "w_data.hdf5", "w") as f:
        f.create_dataset("davis/left/events", data=np.zeros((5, 3)))
    with pytest.raises(HeaderError, match=r"\(N, 4\)"):
        open_source(tmp_path / "w_data.hdf5")


@pytest.mark.parametrize(
    ("row", "error", "reason", "match"),
    [
        (
            [3.5, 1, T0 + 0.2, 1],
            CoordinateError,
            "coordinates",
            r"/davis/left/events\[1\]: coordinates are not pixel",
        ),
        ([-1, 1, T0 + 0.2, 1], CoordinateError, "coordinates", "not pixel indices"),
        ([346, 1, T0 + 0.2, 1], CoordinateError, "coordinates", "x=346 y=1 lies outside the 346x260"),
        ([3, 1, T0 + 0.2, 0.5], EventFormatError, "polarity", r"polarity 2 is not one of \{-1, 0, 1\}"),
        ([3, 1, np.nan, 1], EventFormatError, "timestamp", "not a finite number"),
        ([3, 1, T0 - 1, 1], TimeOrderError, "time_order", "time goes backwards"),
    ],
)
def test_bad_rows_strict_and_lenient(tmp_path, row, error, reason, match):
    path = mvsec_file(tmp_path / "b_data.hdf5", [[1, 1, T0, 1], row, [2, 2, T0 + 0.3, -1]])
    with pytest.raises(error, match=match):
        read_events(path)
    with open_source(path, strict=False) as src:
        ev = np.concatenate(list(src))
        assert ev["x"].tolist() == [1, 2]
        assert src.stats.skipped == {reason: 1}
