"""AEDAT 4.0 through dv-processing: a real DAVIS346 recording checked against an independent decoder,
seeking, bounded chunks, write/read round trips, bad input, and the dv-processing array converters.

tests/data/davis346_trimmed.aedat4 is the DAVIS346 sample of the aedat 2.3.0 sdist (``test_data.aedat4``,
MIT licence) re-packed through dv-processing's writer (ZSTD): all of its 78,830 events, 2,363 IMU
samples and 236 triggers (APS frame/exposure markers, 59 of each kind), and the first 3 of its 59 APS
frames. Counts per the aedat package's Rust decoder on the original file.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesight.io import (
    EVENT_DTYPE,
    TRIGGER_DTYPE,
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TruncatedError,
    UnknownWordError,
    from_dv_arrays,
    from_dv_structured,
    make_events,
    open_source,
    to_dv_arrays,
    write_events,
)

dv = pytest.importorskip("dv_processing")

from spikesight.io.aedat4 import Aedat4Reader, Aedat4Writer  # noqa: E402 - needs dv_processing

DATA = Path(__file__).resolve().parent.parent / "data" / "davis346_trimmed.aedat4"
N_EVENTS = 78_830
APS_KINDS = ("frame_start", "frame_end", "exposure_start", "exposure_end")
APS_TRIGGERS = {f"trigger_aps_{k}": 59 for k in APS_KINDS}


def read_all(path, **kw):
    with Aedat4Reader(path, **kw) as src:
        parts = list(src)
        src.scan()
        return (np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)), src


@pytest.fixture(scope="module")
def recording():
    return read_all(DATA)


def test_real_recording_geometry_counts_and_other_streams(recording):
    ev, src = recording
    assert (src.info.width, src.info.height) == (346, 260)
    assert src.info.metadata["camera"] == "DAVIS346_00000002"
    assert len(ev) == N_EVENTS == src.info.event_count
    assert np.all(np.diff(ev["t"]) >= 0)
    assert src.info.start_time == int(ev["t"][0]) and src.info.end_time == int(ev["t"][-1])
    assert src.stats.other == {"frames": 3, "imu": 2363, **APS_TRIGGERS}
    assert len(src.triggers) == 0  # APS markers are counted, not returned as external triggers
    assert set(np.unique(ev["p"]).tolist()) == {0, 1}


def test_real_recording_matches_independent_decoder(recording):
    aedat = pytest.importorskip("aedat", reason="the cross-check needs the aedat package (Rust decoder, MIT)")
    ev, src = recording
    events, frames, imu, triggers = [], 0, 0, {}
    for packet in aedat.Decoder(str(DATA)):
        if "events" in packet:
            events.append(packet["events"])
        elif "frame" in packet:
            frames += 1
        elif "imus" in packet:
            imu += len(packet["imus"])
        elif "triggers" in packet:
            for kind, n in zip(*np.unique(packet["triggers"]["source"], return_counts=True), strict=True):
                triggers[int(kind)] = triggers.get(int(kind), 0) + int(n)
    ref = np.concatenate(events)
    np.testing.assert_array_equal(ev["t"], ref["t"].astype(np.int64))
    np.testing.assert_array_equal(ev["x"], ref["x"])
    np.testing.assert_array_equal(ev["y"], ref["y"])
    np.testing.assert_array_equal(ev["p"], ref["on"].astype(np.int16))
    assert (frames, imu) == (src.stats.other["frames"], src.stats.other["imu"])
    assert triggers == {6: 59, 7: 59, 8: 59, 9: 59}  # dv TriggerType APS_FRAME_START .. APS_EXPOSURE_END


class CountingRecording:
    """Wraps a dv recording and remembers the start of every event time range asked for."""

    def __init__(self, rec):
        self.rec = rec
        self.starts = []

    def getEventsTimeRange(self, start, end, name):
        self.starts.append(start)
        return self.rec.getEventsTimeRange(start, end, name)

    def __getattr__(self, name):
        return getattr(self.rec, name)


def test_seek_decodes_only_near_the_target(recording):
    ev, _ = recording
    with Aedat4Reader(DATA, window_us=50_000) as src:
        src._rec = CountingRecording(src._rec)
        t = int(ev["t"][60_000]) + 1
        src.seek(t)
        got = next(src.slices(n_events=100))
        np.testing.assert_array_equal(got, ev[ev["t"] >= t][:100])
        assert min(src._rec.starts) > t - 50_000
        window = src.read_window(t - 30_000, t + 20_000)
        np.testing.assert_array_equal(window, ev[(ev["t"] >= t - 30_000) & (ev["t"] < t + 20_000)])


class FailingRecording(CountingRecording):
    """dv-processing failing to decode the packets of one time range, as it does on corrupt data."""

    def __init__(self, rec, bad_start):
        super().__init__(rec)
        self.bad_start = bad_start

    def getEventsTimeRange(self, start, end, name):
        if start == self.bad_start:
            raise RuntimeError("Error info: LZ4 decompression failed\nStacktrace:\n 0# somewhere")
        return self.rec.getEventsTimeRange(start, end, name)


def test_undecodable_packets_raise_or_are_skipped_and_counted(recording):
    ev, _ = recording
    with Aedat4Reader(DATA, window_us=100_000) as src:
        bad = src._t_first + 300_000
        src._rec = FailingRecording(src._rec, bad)
        with pytest.raises(UnknownWordError, match="LZ4 decompression failed"):
            list(src)
    with Aedat4Reader(DATA, window_us=100_000, strict=False) as src:
        src._rec = FailingRecording(src._rec, bad)
        got = np.concatenate(list(src))
        assert src.stats.skipped == {"undecodable_window": 1}
    np.testing.assert_array_equal(got, ev[(ev["t"] < bad) | (ev["t"] >= bad + 100_000)])


def test_bounded_chunks_and_resuming_from_their_checkpoints(recording):
    ev, _ = recording
    with Aedat4Reader(DATA, window_us=100_000, chunk_events=500) as src:
        chunks = list(src._chunks_from(None))
        assert max(len(c.events) for c in chunks) <= 500
        np.testing.assert_array_equal(np.concatenate([c.events for c in chunks]), ev)
        offsets = [c.checkpoint.offset for c in chunks]
        assert offsets == sorted(set(offsets))
        for c in chunks[::37]:
            again = next(src._chunks_from(c.checkpoint))
            np.testing.assert_array_equal(again.events, c.events)


def test_delta_t_slices_match_numpy(recording):
    ev, _ = recording
    with Aedat4Reader(DATA, window_us=7_000) as src:
        wins = list(src.windows(delta_t=33_000))
    t0 = int(ev["t"][0])
    assert wins[0].t_start == t0
    for w in wins:
        np.testing.assert_array_equal(w.events, ev[(ev["t"] >= w.t_start) & (ev["t"] < w.t_end)])
    assert sum(len(w.events) for w in wins) == len(ev)


@st.composite
def event_arrays(draw):
    width, height = draw(st.integers(1, 640)), draw(st.integers(1, 480))
    n = draw(st.integers(0, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    start = draw(st.integers(0, 2**50))
    t = np.sort(rng.integers(0, 10**7, n)) + start
    ev = make_events(rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), t)
    return ev, width, height, draw(st.integers(1, 3)), start


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=event_arrays())
def test_write_read_round_trip(tmp_path, case):
    ev, width, height, parts, start = case
    path = tmp_path / "rt.aedat4"
    trig = np.zeros(3, dtype=TRIGGER_DTYPE)
    trig["p"] = [1, 0, 1]
    trig["t"] = [start + 5, start + 9, start + 9]
    with Aedat4Writer(path, width, height, compression="ZSTD") as w:
        for piece in np.array_split(ev, parts):
            w.write(piece)
        w.write_triggers(trig)
    got, src = read_all(path, window_us=1_000_000)
    assert (src.info.width, src.info.height) == (width, height)
    np.testing.assert_array_equal(got, ev)
    np.testing.assert_array_equal(src.triggers, trig)


def test_open_source_and_write_events(tmp_path):
    ev = make_events([0, 3, 2], [1, 0, 2], [1, 0, 1], [10, 20, 20])
    path = tmp_path / "w.aedat4"
    write_events(path, ev, 4, 3)
    with open_source(path) as src:
        assert isinstance(src, Aedat4Reader)
        np.testing.assert_array_equal(np.concatenate(list(src)), ev)


def test_writer_refuses_what_the_file_cannot_hold(tmp_path):
    with Aedat4Writer(tmp_path / "a.aedat4", 4, 4) as w:
        with pytest.raises(ValueError):
            w.write(make_events([4], [0], [1], [1]))
        bad = np.zeros(1, dtype=TRIGGER_DTYPE)
        bad["id"] = 3
        with pytest.raises(ValueError):
            w.write_triggers(bad)
    with Aedat4Writer(tmp_path / "b.aedat4", 4, 4, triggers=False) as w, pytest.raises(ValueError):
        w.write_triggers(np.zeros(1, dtype=TRIGGER_DTYPE))
    with pytest.raises(ValueError):
        Aedat4Writer(tmp_path / "c.aedat4", 4, 4, compression="gzip")


def test_empty_file_written_reads_as_no_events(tmp_path):
    path = tmp_path / "e.aedat4"
    Aedat4Writer(path, 8, 8).close()
    got, src = read_all(path)
    assert len(got) == 0 and src.info.event_count == 0


def test_events_outside_the_declared_geometry(tmp_path):
    path = tmp_path / "o.aedat4"
    config = dv.io.MonoCameraWriter.EventOnlyConfig("test", (10, 10))
    writer = dv.io.MonoCameraWriter(str(path), config)
    store = dv.EventStore()
    for t, x in ((1, 2), (2, 20), (3, 4)):
        store.push_back(t, x, 1, True)
    writer.writeEvents(store)
    del writer
    with pytest.raises(CoordinateError):
        read_all(path)
    got, src = read_all(path, strict=False)
    assert got["x"].tolist() == [2, 4]
    assert src.stats.skipped == {"outside_geometry": 1}


def test_bad_input(tmp_path):
    empty = tmp_path / "empty.aedat4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        Aedat4Reader(empty)
    wrong = tmp_path / "wrong.aedat4"
    wrong.write_bytes(b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + bytes(64))
    with pytest.raises(HeaderError) as info:
        Aedat4Reader(wrong)
    assert info.value.offset == 0
    data = DATA.read_bytes()
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedError) as info:
        Aedat4Reader(cut)
    assert info.value.offset == len(data) // 2
    garbage = tmp_path / "garbage.aedat4"
    garbage.write_bytes(b"#!AER-DAT4.0\r\n" + bytes(range(256)) * 4)
    with pytest.raises(EventFormatError):
        Aedat4Reader(garbage)


def test_without_dv_processing_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dv_processing", None)
    with pytest.raises(ImportError, match=r"spikesight\[dv\]"):
        Aedat4Reader(DATA)
    with pytest.raises(ImportError, match=r"spikesight\[dv\]"):
        Aedat4Writer(tmp_path / "x.aedat4", 4, 4)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 200), seed=st.integers(0, 2**32 - 1))
def test_dv_converters_round_trip_through_an_event_store(n, seed):
    rng = np.random.default_rng(seed)
    ev = make_events(rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(0, 2**40, n)))
    timestamp, x, y, polarity = to_dv_arrays(ev)
    store = dv.EventStore()
    for row in zip(timestamp.tolist(), x.tolist(), y.tolist(), polarity.tolist(), strict=True):
        store.push_back(*row)
    assert store.size() == n
    if n:
        coords = store.coordinates()
        back = from_dv_arrays(store.timestamps(), coords[:, 0], coords[:, 1], store.polarities())
        np.testing.assert_array_equal(back, ev)
        np.testing.assert_array_equal(from_dv_structured(store.numpy()), ev)
