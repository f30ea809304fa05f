"""Metavision HDF5: golden files laid out by hand with h5py, the writer's layout and indexes against
a slow model of the Metavision SDK's index writer, round trips, seeking through /CD/indexes,
triggers, the ECF codec error, and bad input."""

import itertools

import h5py
import hdf5plugin
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import (
    TRIGGER_DTYPE,
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnsupportedCodecError,
    make_events,
    open_source,
    open_writer,
    read_events,
)
from spikesight.io.hdf5 import MetavisionH5Reader, MetavisionH5Writer, index_entries, open_hdf5

CD = np.dtype(
    {
        "names": ["x", "y", "p", "t"],
        "formats": ["<u2", "<u2", "<i2", "<i8"],
        "offsets": [0, 2, 4, 8],
        "itemsize": 16,
    }
)
TRIG = np.dtype(
    {"names": ["p", "t", "id"], "formats": ["<i2", "<i8", "<i2"], "offsets": [0, 8, 16], "itemsize": 24}
)
INDEX = np.dtype([("id", "<u8"), ("ts", "<i8")])
ECF_ID = 0x8ECF
needs_no_ecf_plugin = pytest.mark.skipif(
    h5py.h5z.filter_avail(ECF_ID), reason="an ECF HDF5 plugin is installed"
)


def metavision_file(path, rows, geometry="640x480", index=None, triggers=None, chunk=4, **dset_kw):
    """A Metavision-layout file written directly with h5py (not with our writer)."""
    with h5py.File(path, "w") as f:
        f.attrs["version"] = "1.0"
        if geometry is not None:
            f.attrs["geometry"] = geometry
        f.attrs["serial_number"] = "00ca0009"
        data = np.array(rows, dtype=CD)
        f.create_dataset("CD/events", data=data, chunks=(chunk,), maxshape=(None,), **dset_kw)
        if index is not None:
            entries, offset = index
            d = f.create_dataset(
                "CD/indexes", data=np.array(entries, dtype=INDEX), chunks=(chunk,), maxshape=(None,)
            )
            d.attrs["offset"] = offset
        trig = np.array(triggers or [], dtype=TRIG)
        f.create_dataset("EXT_TRIGGER/events", data=trig, chunks=(chunk,), maxshape=(None,))
    return path


def reference_indexes(t):
    """A slow model of the Metavision SDK's index writer, event by event: entry 0 is (0, -1); when
    the first event of 2000 µs period q arrives, the pending entry is written for each period up
    to q (a period without events repeats the entry before it); close writes the pending one."""
    if len(t) == 0:
        return []
    offset = -int(t[0])
    out = []
    count, index_id, index_ts, last = 0, 0, -1, (0, -1)
    ev_id = 0
    while ev_id < len(t):
        pos = (int(t[ev_id]) + offset) // 2000 + 1
        if pos > count:
            if ev_id != index_id:
                last = (index_id, index_ts)
            out.append(last)
            count += 1
            index_id, index_ts = ev_id, int(t[ev_id]) + offset
        else:
            ev_id += 1
    out.append((index_id, index_ts))
    return out


def events_strategy(max_size=300):
    return st.lists(
        st.tuples(st.integers(0, 639), st.integers(0, 479), st.integers(0, 1), st.integers(0, 20_000)),
        min_size=0,
        max_size=max_size,
    ).map(
        lambda rows: (
            make_events(*zip(*sorted(rows, key=lambda r: r[3]), strict=True))
            if rows
            else make_events([], [], [], [])
        )
    )


# -- golden reads -----------------------------------------------------------------------------


def test_golden_file_written_by_hand(tmp_path):
    rows = [(0, 0, 0, 1_000), (639, 479, 1, 1_000), (17, 5, 1, 2_999), (3, 4, 0, 7_500), (8, 9, 1, 7_501)]
    index = ([(0, -1), (0, 0), (2, 1999), (2, 1999), (3, 6500)], "-1000")
    path = metavision_file(tmp_path / "rec.hdf5", rows, index=index, triggers=[(1, 900, 0), (0, 7_000, 2)])
    with open_source(path) as src:
        assert isinstance(src, MetavisionH5Reader)
        assert (src.info.width, src.info.height) == (640, 480)
        assert (src.info.start_time, src.info.end_time, src.info.event_count) == (1_000, 7_501, 5)
        assert src.info.metadata["serial_number"] == "00ca0009"
        ev = np.concatenate(list(src))
        assert ev["x"].tolist() == [0, 639, 17, 3, 8]
        assert ev["y"].tolist() == [0, 479, 5, 4, 9]
        assert ev["p"].tolist() == [0, 1, 1, 0, 1]
        assert ev["t"].tolist() == [1_000, 1_000, 2_999, 7_500, 7_501]
        assert src.triggers.dtype == TRIGGER_DTYPE
        assert src.triggers.tolist() == [(1, 900, 0), (0, 7_000, 2)]
        assert src.stats.other == {"ext_trigger": 2}


def test_gzip_and_plugin_compressed_files_read(tmp_path):
    rows = [(i % 640, i % 480, i % 2, 10 * i) for i in range(100)]
    for name, kw in [
        ("gzip", {"compression": "gzip"}),
        ("blosc", dict(hdf5plugin.Blosc())),
        ("zstd", dict(hdf5plugin.Zstd())),
        ("lz4", dict(hdf5plugin.LZ4())),
        ("bshuf", dict(hdf5plugin.Bitshuffle())),
    ]:
        path = metavision_file(tmp_path / f"{name}.hdf5", rows, chunk=16, **kw)
        ev = read_events(path)
        assert ev["t"].tolist() == [10 * i for i in range(100)], name
        assert ev["x"].tolist() == [i % 640 for i in range(100)], name


def test_geometry_keyword_stands_in_for_a_missing_attribute(tmp_path):
    path = metavision_file(tmp_path / "nogeo.hdf5", [(5, 5, 1, 10)], geometry=None)
    with pytest.raises(GeometryError, match="geometry"):
        open_source(path)
    with open_source(path, geometry=(8, 6)) as src:
        assert (src.info.width, src.info.height) == (8, 6)
        assert src.first_timestamp() == 10


# -- writer -----------------------------------------------------------------------------------


def test_writer_layout_matches_metavision(tmp_path):
    t = [1000, 1500, 3999, 4000, 9000, 9001]
    ev = make_events([1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5], [1, 0, 1, 0, 1, 0], t)
    path = tmp_path / "out.hdf5"
    with MetavisionH5Writer(path, 1280, 720, metadata={"serial_number": "abc", "generation": "4.2"}) as w:
        w.write(ev)
        w.write_triggers(np.array([(1, 1200, 0), (0, 5200, 0)], dtype=TRIGGER_DTYPE))
    with h5py.File(path, "r") as f:
        d = f["CD/events"]
        assert d.dtype == CD and d.dtype.itemsize == 16
        assert d.chunks == (16384,) and d.maxshape == (None,)
        assert d.compression == "gzip"
        assert d[:].tolist() == [
            (1, 0, 1, 1000),
            (2, 1, 0, 1500),
            (3, 2, 1, 3999),
            (4, 3, 0, 4000),
            (5, 4, 1, 9000),
            (6, 5, 0, 9001),
        ]
        idx = f["CD/indexes"]
        assert idx.dtype == INDEX and idx.compression is None
        assert idx.attrs["offset"] == "-1000"
        # t - 1000 = 0, 500, 2999, 3000, 8000, 8001: periods 0, 0, 1, 1, 4, 4; periods 2 and 3 are
        # empty and repeat the entry before them
        assert idx[:].tolist() == [(0, -1), (0, 0), (2, 2999), (2, 2999), (2, 2999), (4, 8000)]
        tr = f["EXT_TRIGGER/events"]
        assert tr.dtype == TRIG and tr.compression is None and tr.chunks == (16384,)
        assert tr[:].tolist() == [(1, 1200, 0), (0, 5200, 0)]
        assert f["EXT_TRIGGER/indexes"].attrs["offset"] == "-1200"
        # t - 1200 = 0, 4000: periods 0 and 2; period 1 repeats period 0
        assert f["EXT_TRIGGER/indexes"][:].tolist() == [(0, -1), (0, 0), (0, 0), (1, 4000)]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        assert attrs == {
            "version": "1.0",
            "geometry": "1280x720",
            "serial_number": "abc",
            "generation": "4.2",
        }


@settings(max_examples=60, deadline=None)
@given(
    t=st.lists(st.integers(0, 30_000), min_size=1, max_size=200).map(sorted),
    cuts=st.lists(st.integers(0, 200), max_size=5),
)
def test_index_entries_match_the_sdk_model(t, cuts):
    t = np.asarray(t, dtype=np.int64)
    t_rel = t - t[0]
    entries, nxt, last = [(0, -1)], 0, (0, -1)
    bounds = sorted({0, len(t), *[c for c in cuts if c < len(t)]})
    for a, b in itertools.pairwise(bounds):
        e, nxt, last = index_entries(t_rel[a:b], a, nxt, last)
        entries += e.tolist()
    assert entries == reference_indexes(t)


@settings(max_examples=40, deadline=None)
@given(
    ev=events_strategy(),
    split=st.integers(0, 300),
    compression=st.sampled_from(["gzip", "none", "blosc", "zstd", "lz4", "lzf"]),
)
def test_round_trip_is_exact(tmp_path_factory, ev, split, compression):
    path = tmp_path_factory.mktemp("rt") / "rt.hdf5"
    trig = np.array([(i % 2, int(t), i % 3) for i, t in enumerate(ev["t"][::7])], dtype=TRIGGER_DTYPE)
    with MetavisionH5Writer(path, 640, 480, compression=compression, chunk_size=32) as w:
        w.write(ev[:split])
        w.write(ev[split:])
        w.write_triggers(trig)
    with open_source(path) as src:
        got = np.concatenate(list(src)) if len(ev) else np.concatenate([*src, ev[:0]])
        np.testing.assert_array_equal(got, ev)
        np.testing.assert_array_equal(src.triggers, trig)
    with h5py.File(path, "r") as f:
        assert f["CD/indexes"][:].tolist() == reference_indexes(ev["t"])


def test_files_without_events(tmp_path):
    with MetavisionH5Writer(tmp_path / "empty.hdf5", 8, 8):
        pass
    with open_source(tmp_path / "empty.hdf5") as src:
        assert list(src) == [] and src.info.event_count == 0 and src.first_timestamp() is None
    with MetavisionH5Writer(tmp_path / "trig.hdf5", 8, 8) as w:
        w.write_triggers(np.array([(1, 50, 3), (0, 80, 3)], dtype=TRIGGER_DTYPE))
    with open_source(tmp_path / "trig.hdf5") as src:
        assert list(src) == []
        assert src.triggers.tolist() == [(1, 50, 3), (0, 80, 3)]


def test_open_writer_picks_the_hdf5_writer(tmp_path):
    ev = make_events([1], [2], [1], [5])
    with open_writer(tmp_path / "a.h5", 4, 4, compression="none") as w:
        assert isinstance(w, MetavisionH5Writer)
        w.write(ev)
    np.testing.assert_array_equal(read_events(tmp_path / "a.h5"), ev)


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown compression"):
        MetavisionH5Writer(tmp_path / "a.hdf5", 4, 4, compression="snappy")
    with pytest.raises(UnsupportedCodecError, match="ECF"):
        MetavisionH5Writer(tmp_path / "b.hdf5", 4, 4, compression="ecf")
    with pytest.raises(ValueError, match="takes no level"):
        MetavisionH5Writer(tmp_path / "b.hdf5", 4, 4, compression="lz4", level=3)
    with MetavisionH5Writer(tmp_path / "c.hdf5", 4, 4) as w:
        with pytest.raises(ValueError, match="polarity"):
            w.write(make_events([1], [1], [2], [5]))
        w.write(make_events([1], [1], [1], [5]))
        with pytest.raises(ValueError, match="time order"):
            w.write(make_events([1], [1], [1], [4]))
        w.write_triggers(np.array([(1, 10, 0)], dtype=TRIGGER_DTYPE))
        with pytest.raises(ValueError, match="time order"):
            w.write_triggers(np.array([(1, 9, 0)], dtype=TRIGGER_DTYPE))


# -- seeking, slicing, triggers per chunk -----------------------------------------------------


def _written(tmp_path, n=5000, name="big.hdf5", **kw):
    rng = np.random.default_rng(7)
    t = np.sort(rng.integers(0, 200_000, n)) + 1_000_000
    ev = make_events(rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n), t)
    trig = np.array([(i % 2, 1_000_000 + 3_000 * i, 0) for i in range(70)], dtype=TRIGGER_DTYPE)
    path = tmp_path / name
    with MetavisionH5Writer(path, 640, 480, chunk_size=64, **kw) as w:
        w.write(ev)
        w.write_triggers(trig)
    return path, ev, trig


def test_seek_reads_one_block_through_the_index(tmp_path, monkeypatch):
    path, ev, _ = _written(tmp_path)
    src = MetavisionH5Reader(path, chunk_events=256)
    reads = []
    orig = src._read_rows
    monkeypatch.setattr(src, "_read_rows", lambda a, b: reads.append((a, b)) or orig(a, b))
    monkeypatch.setattr(src, "_bisect", lambda t: pytest.fail("the index should have been enough"))
    for target in (1_000_000, 1_123_457, int(ev["t"][-1]), 1_150_000, 1_000_001):
        reads.clear()
        src.seek(target)
        got = next(src.slices(n_events=5))
        want = ev[ev["t"] >= target][:5]
        np.testing.assert_array_equal(got, want)
        assert len(reads) <= 2 and reads[0][0] % 256 == 0
        assert reads[0][0] <= np.searchsorted(ev["t"], target) < reads[0][0] + 512
    src.seek(int(ev["t"][-1]) + 1)
    assert list(src.slices(n_events=5)) == []
    src.close()


def test_seek_survives_a_wrong_or_missing_index(tmp_path):
    path, ev, _ = _written(tmp_path)
    with h5py.File(path, "r+") as f:
        idx = f["CD/indexes"]
        bad = idx[:]
        bad["id"] = np.minimum(bad["id"] + 300, len(ev))
        idx[:] = bad
    with open_source(path, chunk_events=256) as src:
        for target in (1_050_000, 1_000_000, 1_190_000):
            src.seek(target)
            got = src.read_window(target, target + 10_000)
            want = ev[(ev["t"] >= target) & (ev["t"] < target + 10_000)]
            assert len(want)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(next(src.slices(n_events=3)), want[:3])
    with h5py.File(path, "r+") as f:
        del f["CD/indexes"]
    with open_source(path, chunk_events=256) as src:
        src.seek(1_100_000)
        assert next(src.slices(n_events=1))["t"][0] == ev["t"][np.searchsorted(ev["t"], 1_100_000)]


def test_delta_t_slices_and_triggers_across_blocks(tmp_path):
    path, ev, trig = _written(tmp_path)
    with open_source(path, chunk_events=128) as src:
        chunks = list(src._chunks_from(None))
        assert max(len(c.events) for c in chunks) <= 128 and len(chunks) > 30
        per_chunk = np.concatenate([c.triggers for c in chunks])
        np.testing.assert_array_equal(per_chunk, trig)
        for c, nxt in itertools.pairwise(chunks):
            assert (c.triggers["t"] < nxt.events["t"][0]).all()
        got = list(src.slices(delta_t=7_000))
        t0 = ev["t"][0]
        assert len(got) == (ev["t"][-1] - t0) // 7_000 + 1
        for k, s in enumerate(got):
            lo = t0 + k * 7_000
            np.testing.assert_array_equal(s, ev[(ev["t"] >= lo) & (ev["t"] < lo + 7_000)])
        np.testing.assert_array_equal(src.triggers, trig)


# -- ECF --------------------------------------------------------------------------------------


@needs_no_ecf_plugin
def test_real_ecf_prefix_raises_unsupported_codec(data_dir):
    path = data_dir / "evk4_ecf_prefix.hdf5"
    for opener in (open_source, open_hdf5, MetavisionH5Reader):
        with pytest.raises(UnsupportedCodecError) as err:
            opener(path)
        assert "ECF, HDF5 filter 0x8ECF" in str(err.value)
        assert "not yet supported" in str(err.value)
        assert err.value.path == str(path)


def test_ecf_prefix_keeps_a_consistent_metavision_layout(data_dir):
    with h5py.File(data_dir / "evk4_ecf_prefix.hdf5", "r") as f:
        d = f["CD/events"]
        assert d.dtype == CD and d.chunks == (16384,)
        assert d.id.get_create_plist().get_filter(0)[0] == ECF_ID
        n = d.shape[0]
        assert all(d.id.read_direct_chunk((k,))[0] == 0 for k in range(0, n, 16384))
        idx = f["CD/indexes"][:]
        assert idx[0].tolist() == (0, -1)
        assert (np.diff(idx["id"].astype(np.int64)) >= 0).all() and idx["id"].max() < n
        assert (np.diff(idx["ts"]) >= 0).all()
        assert (idx["ts"][1:] >= 2000 * np.arange(len(idx) - 1)).all()
        assert int(f["CD/indexes"].attrs["offset"]) == -11200224
        assert f.attrs["geometry"] == "1280x720"
        assert f["EXT_TRIGGER/events"].dtype == TRIG


@needs_no_ecf_plugin
def test_ecf_is_detected_from_the_filter_pipeline_without_decoding(tmp_path):
    path = tmp_path / "ecf.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = "1280x720"
        d = f.create_dataset(
            "CD/events",
            shape=(8,),
            maxshape=(None,),
            chunks=(8,),
            dtype=CD,
            compression=ECF_ID,
            allow_unknown_filter=True,
        )
        d.id.write_direct_chunk((0,), b"not ECF at all", filter_mask=0)
    with pytest.raises(UnsupportedCodecError, match=r"ECF, HDF5 filter 0x8ECF\).*not yet supported"):
        open_source(path)


def test_other_missing_filter_is_named(tmp_path):
    path = tmp_path / "odd.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = "4x4"
        d = f.create_dataset(
            "CD/events", shape=(4,), chunks=(4,), dtype=CD, compression=31999, allow_unknown_filter=True
        )
        d.id.write_direct_chunk((0,), b"\0" * 8, filter_mask=0)
    with pytest.raises(UnsupportedCodecError, match="31999"):
        open_source(path)


# -- bad input --------------------------------------------------------------------------------


def test_empty_and_non_hdf5_files(tmp_path):
    empty = tmp_path / "e.hdf5"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        open_hdf5(empty)
    junk = tmp_path / "j.h5"
    junk.write_bytes(b"hello, not hdf5" * 100)
    with pytest.raises(HeaderError, match="not an HDF5 file"):
        open_hdf5(junk)
    with pytest.raises(HeaderError, match="not an HDF5 file"):
        MetavisionH5Reader(junk)


def test_unknown_layout_lists_what_it_found(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images/frame", data=np.zeros((2, 3), np.uint8))
        f.create_group("calib")
    with pytest.raises(HeaderError) as err:
        open_source(path)
    msg = str(err.value)
    assert "no known HDF5 event layout" in msg and "images/frame (2, 3) uint8" in msg and "calib/" in msg


def test_wrong_dtype_or_shape(tmp_path):
    path = tmp_path / "f.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = "4x4"
        f.create_dataset("CD/events", data=np.zeros((3, 4), np.float64))
    with pytest.raises(HeaderError, match="compound"):
        open_source(path)
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = "4x4"
        f.create_dataset(
            "CD/events", data=np.zeros(3, [("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<f8")])
        )
    with pytest.raises(HeaderError, match="'t' must be an integer"):
        open_source(path)


def test_truncated_file(tmp_path):
    path, _, _ = _written(tmp_path, compression="none")
    data = path.read_bytes()
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedError):
        read_events(cut)


@pytest.mark.parametrize(
    ("row", "error", "reason", "match"),
    [
        (
            (640, 1, 1, 25),
            CoordinateError,
            "coordinates",
            r"/CD/events\[2\]: event at x=640 y=1 lies outside",
        ),
        ((3, 480, 1, 25), CoordinateError, "coordinates", "outside the 640x480 geometry"),
        ((3, 1, 2, 25), EventFormatError, "polarity", r"\[2\]: polarity 2 is not one of \{0, 1\}"),
        ((3, 1, -1, 25), EventFormatError, "polarity", "polarity -1"),
        ((3, 1, 1, 15), TimeOrderError, "time_order", r"\[2\]: time goes backwards: t=15 µs after t=20 µs"),
    ],
)
def test_bad_events_strict_and_lenient(tmp_path, row, error, reason, match):
    rows = [(1, 1, 0, 10), (2, 2, 1, 20), row, (4, 4, 0, 30)]
    path = metavision_file(tmp_path / "bad.hdf5", rows)
    with pytest.raises(error, match=match):
        read_events(path)
    with open_source(path, strict=False) as src:
        ev = np.concatenate(list(src))
        assert ev["t"].tolist() == [10, 20, 30]
        assert src.stats.skipped == {reason: 1}
        assert src.info.event_count is None
        assert src.scan().event_count == 3


def test_bad_triggers(tmp_path):
    rows = [(1, 1, 0, 10), (2, 2, 1, 20)]
    path = metavision_file(tmp_path / "t.hdf5", rows, triggers=[(1, 5, 0), (0, 4, 0), (3, 8, 0)])
    with pytest.raises(TimeOrderError, match=r"EXT_TRIGGER/events\[1\]"):
        read_events(path)
    with open_source(path, strict=False) as src:
        list(src)
        assert src.triggers.tolist() == [(1, 5, 0)]
        assert src.stats.skipped == {"trigger_time_order": 1, "trigger_polarity": 1}
