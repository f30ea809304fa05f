"""DSEC ``events.h5``: files in DSEC's exact layout (``/events/{x,y,p,t}`` uint16/uint16/uint8/uint32,
``ms_to_idx`` uint64, ``t_offset`` int64, Blosc-zstd compression as DSEC's scripts write them),
decoded values worked out by hand, seeking through ``ms_to_idx``, and bad input."""

import h5py
import hdf5plugin
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
from spikesight.io.dsec import DsecReader

# DSEC's writer: compression=32001 (Blosc), opts (0, 0, 0, 0, clevel 1, bit shuffle 2, zstd 5)
BLOSC = {"compression": 32001, "compression_opts": (0, 0, 0, 0, 1, 2, 5), "chunks": True}
# DSEC README's ms_to_idx example
README_T = [0, 500, 2100, 5000, 5000, 7100, 7200, 7200, 8100, 9000]
README_MS_TO_IDX = [0, 2, 2, 3, 3, 3, 5, 5, 8, 9]


def ms_to_idx_reference(t):
    """Entry ms = the first event with t >= 1000 ms (DSEC README), for ms = 0 .. t[-1] // 1000."""
    t = [int(v) for v in t]
    return [next(i for i, v in enumerate(t) if v >= 1000 * ms) for ms in range(t[-1] // 1000 + 1)]


def dsec_file(
    path, x, y, p, t, t_offset=0, ms_to_idx="auto", compression=BLOSC, dtypes=("u2", "u2", "u1", "u4")
):
    with h5py.File(path, "w") as f:
        for name, col, dt in zip("xypt", (x, y, p, t), dtypes, strict=True):
            f.create_dataset(f"events/{name}", data=np.asarray(col, dtype=dt), **compression)
        if isinstance(ms_to_idx, str):
            ms_to_idx = ms_to_idx_reference(t)
        if ms_to_idx is not None:
            f.create_dataset("ms_to_idx", data=np.asarray(ms_to_idx, dtype="u8"), **compression)
        if t_offset is not None:
            f.create_dataset("t_offset", data=t_offset, dtype="i8")
    return path


def test_reference_index_matches_the_readme_example():
    assert ms_to_idx_reference(README_T) == README_MS_TO_IDX


def test_golden_blosc_file(tmp_path):
    path = dsec_file(
        tmp_path / "events.h5",
        [0, 639, 5],
        [0, 479, 7],
        [0, 1, 1],
        [0, 1500, 4_000_000],
        t_offset=49_599_300_523,
    )
    with open_source(path) as src:
        assert isinstance(src, DsecReader)
        assert (src.info.width, src.info.height) == (640, 480)
        assert src.info.metadata["t_offset"] == "49599300523"
        assert (src.info.start_time, src.info.end_time) == (49_599_300_523, 49_603_300_523)
        ev = np.concatenate(list(src))
    assert ev.tolist() == [
        (0, 0, 0, 49_599_300_523),
        (639, 479, 1, 49_599_302_023),
        (5, 7, 1, 49_603_300_523),
    ]


def test_zstd_file_without_t_offset_or_index(tmp_path):
    path = dsec_file(
        tmp_path / "events.h5",
        [1, 2],
        [3, 4],
        [1, 0],
        [10, 20],
        t_offset=None,
        ms_to_idx=None,
        compression=dict(hdf5plugin.Zstd()),
    )
    assert read_events(path).tolist() == [(1, 3, 1, 10), (2, 4, 0, 20)]
    with h5py.File(path, "a") as f:
        f.create_dataset("t_offset", data=np.array([100], dtype="i8"))
    assert read_events(path)["t"].tolist() == [110, 120]


def test_seek_uses_ms_to_idx(tmp_path, monkeypatch):
    n = len(README_T)
    path = dsec_file(
        tmp_path / "events.h5",
        range(n),
        [0] * n,
        [1] * n,
        README_T,
        t_offset=1_000_000,
        ms_to_idx=README_MS_TO_IDX,
        compression={},
    )
    src = DsecReader(path, chunk_events=1)
    monkeypatch.setattr(src, "_bisect", lambda t: pytest.fail("ms_to_idx should have been enough"))
    for target in range(-1000, 9_200, 100):
        src.seek(1_000_000 + target)
        want = [i for i, v in enumerate(README_T) if v >= target][:2]
        got = list(src.slices(n_events=2))
        assert (got[0]["x"].tolist() if got else []) == want
    src.close()


@settings(max_examples=40, deadline=None)
@given(
    t=st.lists(st.integers(0, 50_000), min_size=1, max_size=200).map(sorted),
    target=st.integers(-100, 52_000),
    shift=st.integers(-3, 3),
)
def test_seek_is_right_even_when_ms_to_idx_is_wrong(tmp_path_factory, t, target, shift):
    n = len(t)
    idx = np.clip(np.asarray(ms_to_idx_reference(t)) + shift, 0, n)
    path = dsec_file(
        tmp_path_factory.mktemp("d") / "events.h5",
        np.arange(n) % 640,
        [1] * n,
        [0] * n,
        t,
        t_offset=7,
        ms_to_idx=idx,
        compression={},
    )
    with DsecReader(path, chunk_events=16) as src:
        src.seek(target + 7)
        got = np.concatenate([*src.slices(n_events=1000), src.read_window(0, 0)])
    want = [v + 7 for v in t if v + 7 >= target + 7]
    assert got["t"].tolist() == want


def test_layout_errors(tmp_path):
    path = dsec_file(tmp_path / "a.h5", [1, 2], [3, 4], [1, 0], [10, 20])
    with h5py.File(path, "a") as f:
        del f["events/y"]
        f.create_dataset("events/y", data=np.array([1, 2, 3], "u2"))
    with pytest.raises(HeaderError, match=r"differ in length: \{'x': 2, 'y': 3, 't': 2, 'p': 2\}"):
        open_source(path)
    path = dsec_file(tmp_path / "b.h5", [1.5, 2], [3, 4], [1, 0], [10, 20], dtypes=("f4", "u2", "u1", "u4"))
    with pytest.raises(HeaderError, match="/events/x must be a 1-D integer dataset"):
        open_source(path)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("events/x", data=np.array([1], "u2"))
    with pytest.raises(HeaderError, match="no /events/y dataset"):
        open_source(tmp_path / "c.h5")


@pytest.mark.parametrize(
    ("col", "value", "error", "reason", "match"),
    [
        (
            "x",
            640,
            CoordinateError,
            "coordinates",
            r"/events\[1\]: event at x=640 y=4 lies outside the 640x480",
        ),
        ("y", 480, CoordinateError, "coordinates", "y=480"),
        ("p", 2, EventFormatError, "polarity", r"polarity 2 is not one of \{0, 1\}"),
        ("t", 5, TimeOrderError, "time_order", r"t=105 µs after t=110 µs"),
    ],
)
def test_bad_events_strict_and_lenient(tmp_path, col, value, error, reason, match):
    cols = {"x": [1, 2, 3], "y": [3, 4, 5], "p": [1, 0, 1], "t": [10, 20, 30]}
    cols[col][1] = value
    path = dsec_file(
        tmp_path / "events.h5", cols["x"], cols["y"], cols["p"], cols["t"], t_offset=100, ms_to_idx=None
    )
    with pytest.raises(error, match=match):
        read_events(path)
    with open_source(path, strict=False) as src:
        ev = np.concatenate(list(src))
        assert ev["t"].tolist() == [110, 130]
        assert src.stats.skipped == {reason: 1}
