"""Metavision HDF5: golden files laid out by hand with h5py, the writer's layout and indexes against
a slow model of the Metavision SDK's index writer, round trips, seeking through /CD/indexes,
triggers, ECF-compressed files (the real EVK4 prefix, hand-made chunks, chunks stored unfiltered,
corrupt and missing chunks, our writer against Prophesee's bytes), and bad input."""

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
    write_events,
)
from spikesight.io.ecf import EcfChunkError
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
# two events composed by hand in ECF: n = 2 in packed y/x/p; t0 = 100; a token for 1 event at +0 and
# one for 1 event at +3; v = y << 12 | x << 1 | p = 0x4007 (3, 4, 1) and 0x600A (5, 6, 0) in three u32
ECF_TWO = (
    (2 << 2 | 2).to_bytes(4, "little")
    + (100).to_bytes(8, "little")
    + bytes([0x01, 0x31])
    + b"".join(v.to_bytes(4, "little") for v in (0x4007 << 8 | 0x0A, 0x60 << 16, 0))
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
    meta = {"serial_number": "abc", "generation": "4.2"}
    with MetavisionH5Writer(path, 1280, 720, compression="gzip", metadata=meta) as w:
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


def test_ecf_is_the_default_with_metavisions_layout(data_dir, tmp_path):
    """The writer declares the filter as the Metavision SDK does (the real file's pipeline), stores
    whole chunks and a last chunk holding only what is left, each announcing its own count."""
    n = 16384 + 100
    rng = np.random.default_rng(3)
    ev = make_events(
        rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n), np.arange(n) // 3
    )
    path = tmp_path / "ecf.hdf5"
    with open_writer(path, 1280, 720) as w:
        assert isinstance(w, MetavisionH5Writer) and w.compression == "ecf"
        w.write(ev[:5000])
        w.write(ev[5000:])
    with h5py.File(path, "r") as f, h5py.File(data_dir / "evk4_ecf_prefix.hdf5", "r") as real:
        d = f["CD/events"]
        pipeline = d.id.get_create_plist()
        real_pipeline = real["CD/events"].id.get_create_plist()
        assert pipeline.get_nfilters() == 1
        assert pipeline.get_filter(0)[:3] == real_pipeline.get_filter(0)[:3] == (ECF_ID, 1, ())
        assert d.dtype == CD and d.chunks == (16384,) and d.maxshape == (None,) and d.shape == (n,)
        for k, count in ((0, 16384), (16384, 100)):
            mask, raw = d.id.read_direct_chunk((k,))
            assert mask == 0 and int.from_bytes(raw[:4], "little") >> 2 == count
        assert f["CD/indexes"][:].tolist() == reference_indexes(ev["t"])
    with open_source(path) as src:
        assert src.info.metadata["compression"] == "ecf"
        np.testing.assert_array_equal(np.concatenate(list(src)), ev)


def test_ecf_writes_of_any_size_and_a_reused_buffer(tmp_path):
    """Whole chunks are encoded from the caller's array at once; the unfinished one is copied, so a
    caller may refill its buffer after each write."""
    rng = np.random.default_rng(11)
    n = 300
    ev = make_events(rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n), np.arange(n) * 7)
    sizes = [1, 2, 5, 8, 9, 30, 1, 64, 100]
    sizes.append(n - sum(sizes))
    buf = np.empty(max(sizes), dtype=ev.dtype)
    path = tmp_path / "pieces.hdf5"
    with MetavisionH5Writer(path, 64, 48, chunk_size=8) as w:
        a = 0
        for size in sizes:
            buf[:size] = ev[a : a + size]
            w.write(buf[:size])
            buf[:] = make_events([63] * len(buf), [47] * len(buf), [0] * len(buf), [10**9] * len(buf))
            a += size
    np.testing.assert_array_equal(read_events(path), ev)
    with h5py.File(path, "r") as f:
        d = f["CD/events"]
        counts = [int.from_bytes(d.id.read_direct_chunk((k,))[1][:4], "little") >> 2 for k in range(0, n, 8)]
    assert counts == [8] * (n // 8) + [n % 8]


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 300), max_size=6).map(sorted),
    flush_after=st.lists(st.booleans(), min_size=7, max_size=7),
    compression=st.sampled_from(["ecf", "ecf", "gzip", "none"]),
)
def test_flushing_mid_stream_changes_nothing_in_the_file(tmp_path_factory, cuts, flush_after, compression):
    """A recorder flushes every second, in the middle of a chunk: an ECF chunk stored unfinished
    is stored again, whole, when it fills (direct chunk writes start on chunk boundaries), and
    the file holds exactly what was written, chunk for chunk."""
    rng = np.random.default_rng(5)
    n = 300
    ev = make_events(rng.integers(0, 64, n), rng.integers(0, 48, n), rng.integers(0, 2, n), np.arange(n) * 7)
    path = tmp_path_factory.mktemp("fl") / "flushed.hdf5"
    with MetavisionH5Writer(path, 64, 48, compression=compression, chunk_size=8) as w:
        for (a, b), flush in zip(itertools.pairwise([0, *cuts, n]), flush_after, strict=False):
            w.write(ev[a:b])
            if flush:
                w.flush()
    np.testing.assert_array_equal(read_events(path), ev)
    with h5py.File(path, "r") as f:
        assert f["CD/indexes"][:].tolist() == reference_indexes(ev["t"])
        if compression == "ecf":
            chunks = [f["CD/events"].id.read_direct_chunk((k,))[1] for k in range(0, n, 8)]
            assert [int.from_bytes(c[:4], "little") >> 2 for c in chunks] == [8] * (n // 8) + [n % 8]


@settings(max_examples=60, deadline=None)
@given(
    t=st.lists(st.integers(0, 30_000), min_size=1, max_size=200).map(sorted),
    cuts=st.lists(st.integers(0, 200), max_size=5),
)
def test_index_entries_match_the_sdk_model(t, cuts):
    t = np.asarray(t, dtype=np.int64) + 5_000_000
    entries, nxt, last = [(0, -1)], 0, (0, -1)
    bounds = sorted({0, len(t), *[c for c in cuts if c < len(t)]})
    for a, b in itertools.pairwise(bounds):
        e, nxt, last = index_entries(t[a:b], int(t[0]), a, nxt, last)
        entries += e.tolist()
    assert entries == reference_indexes(t)


@settings(max_examples=40, deadline=None)
@given(
    ev=events_strategy(),
    split=st.integers(0, 300),
    compression=st.sampled_from(["ecf", "ecf", "gzip", "none", "blosc", "zstd", "lz4", "lzf"]),
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
    with pytest.raises(ValueError, match="takes no level"):
        MetavisionH5Writer(tmp_path / "b.hdf5", 4, 4, compression="lz4", level=3)
    with pytest.raises(ValueError, match="'ecf' takes no level"):
        MetavisionH5Writer(tmp_path / "b.hdf5", 4, 4, level=3)
    with MetavisionH5Writer(tmp_path / "c.hdf5", 4, 4) as w:
        with pytest.raises(ValueError, match="polarity"):
            w.write(make_events([1], [1], [2], [5]))
        w.write(make_events([1], [1], [1], [5]))
        with pytest.raises(ValueError, match="time order"):
            w.write(make_events([1], [1], [1], [4]))
        w.write_triggers(np.array([(1, 10, 0)], dtype=TRIGGER_DTYPE))
        with pytest.raises(ValueError, match="time order"):
            w.write_triggers(np.array([(1, 9, 0)], dtype=TRIGGER_DTYPE))


def test_ecf_refuses_what_it_cannot_hold_or_falls_back(tmp_path):
    with pytest.raises(ValueError, match=r"11 bits \(0\.\.2047\); a 2049x100 geometry.*fallback='gzip'"):
        MetavisionH5Writer(tmp_path / "wide.hdf5", 2049, 100)
    with pytest.raises(ValueError, match="at most 65535 events"):
        MetavisionH5Writer(tmp_path / "big.hdf5", 64, 64, chunk_size=70_000)
    ev = make_events([4095, 0], [1, 3000], [1, 0], [10, 11])
    with MetavisionH5Writer(tmp_path / "wide.hdf5", 4096, 4096, fallback="gzip") as w:
        assert w.compression == "gzip"
        w.write(ev)
    with h5py.File(tmp_path / "wide.hdf5", "r") as f:
        assert f["CD/events"].compression == "gzip"
    np.testing.assert_array_equal(read_events(tmp_path / "wide.hdf5"), ev)
    with MetavisionH5Writer(tmp_path / "ok.hdf5", 2048, 2048, fallback="gzip") as w:
        assert w.compression == "ecf"  # 2048 pixels: coordinates 0..2047 fit
        w.write(make_events([2047], [2047], [1], [-5]))
        with pytest.raises(ValueError, match="time order"):
            w.write(make_events([1], [1], [1], [-6]))
    np.testing.assert_array_equal(read_events(tmp_path / "ok.hdf5"), make_events([2047], [2047], [1], [-5]))


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


def ecf_file(path, chunks, rows, chunk=2, geometry="8x8", extra_filters=()):
    """A file whose /CD/events declares ECF as the Metavision SDK does (optional, no parameters), with
    raw chunks written by hand: ``chunks`` maps a chunk index to ``(bytes, filter mask)``; chunks not
    listed stay unwritten."""
    with h5py.File(path, "w") as f:
        f.attrs["geometry"] = geometry
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((chunk,))
        for code in (ECF_ID, *extra_filters):
            dcpl.set_filter(code, h5py.h5z.FLAG_OPTIONAL)
        space = h5py.h5s.create_simple((rows,), (h5py.h5s.UNLIMITED,))
        h5py.h5d.create(f.create_group("CD").id, b"events", h5py.h5t.py_create(CD), space, dcpl=dcpl)
        d = f["CD/events"]
        for k, (data, mask) in chunks.items():
            d.id.write_direct_chunk((k * chunk,), data, filter_mask=mask)
    return path


# (1, 1, 0, 50) twice, earlier than ECF_TWO: v = 0x1002 for both
ECF_EARLY = (
    (2 << 2 | 2).to_bytes(4, "little")
    + (50).to_bytes(8, "little")
    + bytes([0x02])
    + b"".join(v.to_bytes(4, "little") for v in (0x1002 << 8 | 0x02, 0x10 << 16, 0))
)


def test_real_ecf_prefix_reads_exactly(data_dir):
    """The first 10 chunks of a recording written by Prophesee's encoder: every event equals the same
    recording's EVT3 events, and x, y, p its DAT events (whose clock starts 11,194,368 µs later)."""
    path = data_dir / "evk4_ecf_prefix.hdf5"
    evt3 = read_events(data_dir / "evk4_evt3_prefix.raw")
    dat = read_events(data_dir / "evk4_td_prefix.dat")
    for threads in (1, 2):
        with open_source(path, threads=threads) as src:
            assert isinstance(src, MetavisionH5Reader)
            info = src.info
            assert (info.width, info.height, info.event_count) == (1280, 720, 163_840)
            assert (info.start_time, info.end_time) == (11_200_224, 11_589_245)
            assert info.metadata["compression"] == "ecf" and info.metadata["generation"] == "4.2"
            ev = np.concatenate(list(src))
            assert len(src.triggers) == 0 and src.stats.skipped == {}
        for k in "xypt":
            np.testing.assert_array_equal(ev[k], evt3[k][: len(ev)])
        for k in "xyp":
            np.testing.assert_array_equal(ev[k][: len(dat)], dat[k])
        assert set((ev["t"][: len(dat)] - dat["t"]).tolist()) == {11_194_368}


def test_our_writer_rewrites_the_real_prefix_byte_for_byte(data_dir, tmp_path):
    """Prophesee's chunks and index come back unchanged when its events go through our writer."""
    src = data_dir / "evk4_ecf_prefix.hdf5"
    out = tmp_path / "again.hdf5"
    write_events(out, read_events(src), 1280, 720)
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b:
        for k in range(0, 163_840, 16384):
            assert a["CD/events"].id.read_direct_chunk((k,)) == b["CD/events"].id.read_direct_chunk((k,))
        assert b["CD/indexes"][:].tolist() == a["CD/indexes"][:].tolist()
        assert b["CD/indexes"].attrs["offset"] == a["CD/indexes"].attrs["offset"] == "-11200224"


def test_seek_in_ecf_decodes_only_chunks_near_the_target(data_dir, monkeypatch):
    path = data_dir / "evk4_ecf_prefix.hdf5"
    ev = read_events(path)
    src = MetavisionH5Reader(path, chunk_events=16384)
    decoded = []
    orig = src._ecf.read
    monkeypatch.setattr(src._ecf, "read", lambda a, b, *rest: decoded.append(a // 16384) or orig(a, b, *rest))
    monkeypatch.setattr(src, "_bisect", lambda t: pytest.fail("the index should have been enough"))
    for target in (11_500_000, 11_200_224, 11_399_999, int(ev["t"][-1]), 11_250_001):
        decoded.clear()
        src.seek(target)
        got = next(src.slices(n_events=1000))
        np.testing.assert_array_equal(got, ev[ev["t"] >= target][:1000])
        first = int(np.searchsorted(ev["t"], target)) // 16384
        assert set(decoded) <= {first - 1, first, first + 1} and len(decoded) <= 4
    src.close()


def test_hand_made_ecf_chunks_and_a_chunk_stored_unfiltered(tmp_path):
    """The ECF filter is optional: a chunk whose filter mask has bit 0 set holds plain records."""
    plain = np.array([(7, 1, 1, 200), (0, 7, 0, 201)], dtype=CD).tobytes()
    path = ecf_file(tmp_path / "mixed.hdf5", {0: (ECF_TWO, 0), 1: (plain, 1)}, 4)
    assert read_events(path).tolist() == [(3, 4, 1, 100), (5, 6, 0, 103), (7, 1, 1, 200), (0, 7, 0, 201)]
    bad_p = np.array([(7, 1, 3, 200), (0, 7, 0, 201)], dtype=CD).tobytes()
    path = ecf_file(tmp_path / "plain_p.hdf5", {0: (ECF_TWO, 0), 1: (bad_p, 1)}, 4)
    with pytest.raises(EventFormatError, match=r"\[2\]: polarity 3"):
        read_events(path)


def test_ecf_events_get_the_shared_checks(tmp_path):
    path = ecf_file(tmp_path / "geo.hdf5", {0: (ECF_TWO, 0)}, 2, geometry="4x8")
    with pytest.raises(CoordinateError, match=r"/CD/events\[1\]: event at x=5 y=6 lies outside the 4x8"):
        read_events(path)
    path = ecf_file(tmp_path / "order.hdf5", {0: (ECF_TWO, 0), 1: (ECF_EARLY, 0)}, 4)
    with pytest.raises(TimeOrderError, match=r"\[2\]: time goes backwards: t=50 µs after t=103"):
        read_events(path)
    with open_source(path, strict=False) as src:
        assert np.concatenate(list(src))["t"].tolist() == [100, 103]
        assert src.stats.skipped == {"time_order": 2}


def test_corrupt_ecf_chunk_names_file_chunk_and_byte_offset(tmp_path):
    bad = ECF_TWO[:13] + bytes([0xF1] * 17) + ECF_TWO[13:]  # a 17-nibble gap after the first token
    path = ecf_file(tmp_path / "bad.hdf5", {0: (ECF_TWO, 0), 1: (bad, 0)}, 4)
    with h5py.File(path, "r") as f:
        chunk_at = f["CD/events"].id.get_chunk_info_by_coord((2,)).byte_offset
    with pytest.raises(EcfChunkError) as err:
        read_events(path)
    e = err.value
    assert e.path == str(path) and e.chunk_offset == 29 and e.offset == chunk_at + 29
    assert f"at byte {chunk_at + 29}: /CD/events chunk 1 (rows 2..3): a time gap of more than 16" in str(e)
    with open_source(path, strict=False) as src:
        assert np.concatenate(list(src))["t"].tolist() == [100, 103]
        assert src.stats.skipped == {"ecf_chunk": 2}


def test_missing_and_miscounted_ecf_chunks(tmp_path):
    path = ecf_file(tmp_path / "gap.hdf5", {0: (ECF_TWO, 0), 2: (ECF_TWO, 0)}, 6)
    with pytest.raises(EventFormatError, match=r"chunk 1 \(rows 2\.\.3\) is not stored"):
        read_events(path)
    with open_source(path, strict=False) as src:  # chunk 2 repeats chunk 0: its t=100 goes back
        assert np.concatenate(list(src))["t"].tolist() == [100, 103, 103]
        assert src.stats.skipped == {"ecf_chunk": 2, "time_order": 1}
    path = ecf_file(tmp_path / "count.hdf5", {0: (ECF_TWO, 0), 1: (ECF_TWO, 0)}, 3)
    with pytest.raises(EcfChunkError, match=r"chunk 1 \(rows 2\.\.2\): the header's event count differs"):
        read_events(path)
    path = ecf_file(tmp_path / "short.hdf5", {0: (b"\0" * 20, 1)}, 2)
    with pytest.raises(EventFormatError, match="stored unfiltered but holds 20 bytes for 2 events"):
        read_events(path)


@settings(max_examples=40, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 25), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_file_chunks_give_events_or_an_event_format_error(tmp_path_factory, edits):
    chunk = bytearray(ECF_TWO)
    for pos, value in edits:
        chunk[pos] = value
    path = ecf_file(tmp_path_factory.mktemp("fz") / "f.hdf5", {0: (bytes(chunk), 0)}, 2, geometry="2048x2048")
    try:
        assert len(read_events(path)) == 2
    except EventFormatError:
        pass
    with open_source(path, strict=False) as src:
        assert sum(len(e) for e in src) + src.stats.total_skipped == 2


@needs_no_ecf_plugin
def test_ecf_with_another_filter_is_refused(tmp_path):
    path = ecf_file(tmp_path / "two.hdf5", {}, 2, extra_filters=[2])
    with pytest.raises(
        UnsupportedCodecError, match=r"ECF, HDF5 filter 0x8ECF\) in the pipeline \[36559, 2\]"
    ):
        open_source(path)


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
