"""NumPy event files: structured .npy and column .npz written by numpy itself, conversion of field
types and polarity, geometry rules, seeking, bad input, and round trips of the writer."""

import logging
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import (
    EVENT_DTYPE,
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    make_events,
    open_source,
    read_events,
)
from spikesight.io.numpy_io import NumpyReader, NumpyWriter


def save_structured(path, rows, dtype):
    np.save(path, np.array(rows, dtype=dtype))
    return path


def test_structured_npy_with_other_integer_types_and_order(tmp_path):
    dtype = [("t", "<u4"), ("p", "i1"), ("y", ">i4"), ("x", "<i8"), ("extra", "<f8")]
    rows = [(5, -1, 2, 3, 0.5), (7, 1, 4, 1, 0.0), (7, 1, 0, 9, 1.0)]
    path = save_structured(tmp_path / "a.npy", rows, dtype)
    with open_source(path, geometry=(10, 5)) as src:
        assert isinstance(src, NumpyReader)
        assert (src.info.width, src.info.height, src.info.event_count) == (10, 5, 3)
        assert (src.info.start_time, src.info.end_time) == (5, 7)
        ev = np.concatenate(list(src))
    assert ev.dtype == EVENT_DTYPE
    assert ev.tolist() == [(3, 2, 0, 5), (1, 4, 1, 7), (9, 0, 1, 7)]


def test_dv_style_field_names(tmp_path):
    dtype = [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "?")]
    path = save_structured(tmp_path / "dv.npy", [(100, 1, 2, True), (101, 3, 4, False)], dtype)
    assert read_events(path, geometry=(8, 8)).tolist() == [(1, 2, 1, 100), (3, 4, 0, 101)]


def test_geometry_falls_back_to_max_plus_one(tmp_path, caplog):
    path = save_structured(tmp_path / "g.npy", [(0, 0, 1, 1), (6, 2, 0, 2)],
                           [("x", "u2"), ("y", "u2"), ("p", "i2"), ("t", "i8")])
    with caplog.at_level(logging.INFO):
        src = NumpyReader(path)
    assert (src.info.width, src.info.height) == (7, 3)
    assert "largest x and y" in caplog.text


@pytest.mark.parametrize("saver", [np.savez, np.savez_compressed])
def test_npz_columns_with_stored_geometry(tmp_path, saver):
    path = tmp_path / "c.npz"
    saver(path, x=np.array([1, 2, 3], np.int32), y=np.array([0, 1, 2], np.uint8),
          p=np.array([1, -1, 1], np.int8), t=np.array([10, 20, 30], np.uint64), width=640, height=480)
    with open_source(path, chunk_events=2) as src:
        assert (src.info.width, src.info.height, src.info.event_count) == (640, 480, 3)
        assert np.concatenate(list(src)).tolist() == [(1, 0, 1, 10), (2, 1, 0, 20), (3, 2, 1, 30)]
    assert NumpyReader(path, geometry=(4, 3)).info.width == 4


def sorted_events(n, seed=0, width=50, height=40):
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n),
                       np.sort(rng.integers(0, 10 * n, n)))


@pytest.mark.parametrize("kind", ["npy", "npz", "npz_compressed"])
def test_seek_and_read_window_match_reference(tmp_path, kind):
    ev = sorted_events(3000)
    path = tmp_path / f"s.{kind[:3]}"
    if kind == "npy":
        np.save(path, ev)
    else:
        (np.savez if kind == "npz" else np.savez_compressed)(path, x=ev["x"], y=ev["y"], p=ev["p"], t=ev["t"])
    src = NumpyReader(path, geometry=(50, 40), chunk_events=128)
    t = ev["t"]
    for target in (-5, int(t[0]), int(t[1500]), int(t[1500]) + 1, int(t[-1]), int(t[-1]) + 1):
        k = int(np.searchsorted(t, target, side="left"))
        if kind != "npz_compressed":
            cp = src._checkpoint_for(target)
            assert (0 if cp is None else cp.offset) == k
        src.seek(target)
        got = next(src.slices(n_events=4), ev[:0])
        np.testing.assert_array_equal(got, ev[k : k + 4])
    w = src.read_window(int(t[100]), int(t[2000]))
    np.testing.assert_array_equal(w, ev[100:2000][t[100:2000] < t[2000]])


def npy_events(tmp_path, x, y, p, t, name="bad.npy"):
    return save_structured(tmp_path / name, list(zip(x, y, p, t, strict=True)),
                           [("x", "<i4"), ("y", "<i4"), ("p", "<i4"), ("t", "<i8")])


@pytest.mark.parametrize(
    ("x", "p", "t", "error", "reason"),
    [
        ((1, 99, 2), (0, 1, 1), (1, 2, 3), CoordinateError, "outside_geometry"),
        ((1, -1, 2), (0, 1, 1), (1, 2, 3), CoordinateError, "outside_geometry"),
        ((1, 2, 3), (0, 2, 1), (1, 2, 3), EventFormatError, "bad_polarity"),
        ((1, 2, 3), (0, 1, 1), (5, 4, 6), TimeOrderError, "time_backwards"),
    ],
)
def test_bad_events_strict_and_lenient(tmp_path, x, p, t, error, reason):
    path = npy_events(tmp_path, x, (0, 0, 0), p, t)
    with pytest.raises(error) as err:
        read_events(path, geometry=(10, 10))
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        data = f.tell()
    assert err.value.offset == data + 1 * (4 + 4 + 4 + 8)  # the second record
    with NumpyReader(path, strict=False, geometry=(10, 10)) as src:
        ev = np.concatenate(list(src))
        assert ev["t"].tolist() == [t[0], t[2]]
        assert src.stats.skipped == {reason: 1}


def test_npz_errors_name_the_event_index(tmp_path):
    path = tmp_path / "b.npz"
    np.savez(path, x=np.array([1, 2]), y=np.array([1, 1]), p=np.array([0, 1]), t=np.array([5, 3]))
    with pytest.raises(TimeOrderError, match="event #1"):
        read_events(path, geometry=(4, 4))


def test_empty_and_foreign_files(tmp_path):
    empty = tmp_path / "e.npy"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        NumpyReader(empty)
    text = tmp_path / "t.npy"
    text.write_text("x y p t\n")
    with pytest.raises(HeaderError):
        NumpyReader(text)
    bad_header = tmp_path / "h.npy"
    bad_header.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n")
    with pytest.raises(HeaderError):
        NumpyReader(bad_header)
    np.save(tmp_path / "plain.npy", np.zeros((4, 4), dtype=np.int64))
    with pytest.raises(HeaderError, match="structured"):
        NumpyReader(tmp_path / "plain.npy")
    floats = [("x", "f4"), ("y", "f4"), ("p", "i1"), ("t", "i8")]
    save_structured(tmp_path / "f.npy", [(1.5, 2.0, 1, 3)], floats)
    with pytest.raises(HeaderError, match="integers"):
        NumpyReader(tmp_path / "f.npy")
    save_structured(tmp_path / "m.npy", [(1, 2, 3)], [("x", "i4"), ("y", "i4"), ("t", "i8")])
    with pytest.raises(HeaderError, match="lacks"):
        NumpyReader(tmp_path / "m.npy")


def test_bad_npz_archives(tmp_path):
    np.savez(tmp_path / "short.npz", x=np.array([1, 2]), y=np.array([1]), p=np.array([0, 1]),
             t=np.array([1, 2]))
    with pytest.raises(HeaderError, match="differ in length"):
        NumpyReader(tmp_path / "short.npz")
    np.savez(tmp_path / "nop.npz", x=np.array([1]), y=np.array([1]), t=np.array([1]))
    with pytest.raises(HeaderError, match="lacks"):
        NumpyReader(tmp_path / "nop.npz")
    good = tmp_path / "good.npz"
    np.savez(good, x=np.array([1]), y=np.array([1]), p=np.array([1]), t=np.array([1]))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(HeaderError):
        NumpyReader(cut)


def test_truncated_npy(tmp_path):
    path = tmp_path / "full.npy"
    ev = sorted_events(10)
    np.save(path, ev)
    raw = path.read_bytes()
    cut = tmp_path / "cut.npy"
    cut.write_bytes(raw[:-20])  # the last event and 6 bytes of the one before
    with pytest.raises(TruncatedError) as err:
        read_events(cut, geometry=(50, 40))
    assert err.value.offset == len(raw) - 2 * EVENT_DTYPE.itemsize
    with NumpyReader(cut, strict=False, geometry=(50, 40)) as src:
        np.testing.assert_array_equal(np.concatenate(list(src)), ev[:8])
        assert src.stats.skipped == {"truncated": 1}


def test_interrupted_writer_file_is_recovered_leniently(tmp_path):
    ev = sorted_events(5)
    path = tmp_path / "crash.npy"
    header_for_zero = tmp_path / "zero.npy"
    np.save(header_for_zero, ev[:0])
    path.write_bytes(header_for_zero.read_bytes() + ev.tobytes())
    with pytest.raises(HeaderError, match="interrupted"):
        NumpyReader(path)
    np.testing.assert_array_equal(read_events(path, strict=False, geometry=(50, 40)), ev)


def test_writer_refuses_bad_extension_and_polarity(tmp_path):
    with pytest.raises(ValueError, match=r"\.npy or \.npz"):
        NumpyWriter(tmp_path / "a.bin", 4, 4)
    with NumpyWriter(tmp_path / "a.npy", 4, 4) as w, pytest.raises(ValueError, match="polarity"):
        w.write(make_events([1], [1], [-1], [0]))


@st.composite
def event_arrays(draw, width=346, height=260):
    n = draw(st.integers(0, 80))
    ts = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    t = np.sort(np.asarray(ts, dtype=np.int64))
    xs = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, height - 1), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(np.asarray(xs, dtype=np.int64), ys, ps, t)


@settings(max_examples=50, deadline=None)
@given(ev=event_arrays(), split=st.integers(0, 80), chunk=st.integers(1, 30),
       kind=st.sampled_from([(".npy", False), (".npz", False), (".npz", True)]))
def test_round_trip(tmp_path_factory, ev, split, chunk, kind):
    ext, compress = kind
    path = tmp_path_factory.mktemp("rt") / f"events{ext}"
    opts = {"compress": compress} if ext == ".npz" else {}
    with NumpyWriter(path, 346, 260, **opts) as w:
        w.write(ev[:split])
        w.write(ev[split:])
    with open_source(path, geometry=None if ext == ".npz" else (346, 260), chunk_events=chunk) as src:
        assert (src.info.width, src.info.height) == (346, 260)
        parts = list(src)
    np.testing.assert_array_equal(np.concatenate(parts) if parts else ev[:0], ev)
    loaded = np.load(path)  # numpy itself reads what we wrote
    if ext == ".npy":
        np.testing.assert_array_equal(loaded, ev)
    else:
        for name in "xypt":
            np.testing.assert_array_equal(loaded[name], ev[name])
        assert (int(loaded["width"]), int(loaded["height"])) == (346, 260)
        want = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(path) as zf:
            assert {i.compress_type for i in zf.infolist()} == {want}
