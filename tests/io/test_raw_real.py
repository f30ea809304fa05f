"""Real recordings (trimmed prefixes in tests/data), chunking, resuming from checkpoints, seeking.

Expected values: the first events are worked out by hand from the first words of each file (shown
below); counts are recomputed here from the words with numpy; the last events were cross-checked
with two independent decoders, the PyPI ``evt3`` package (EVT 3.0) and expelliarmus (EVT 2.0).
"""

import numpy as np
import pytest

from spikesight.io import CoordinateError, open_source, read_events
from spikesight.io.raw import RawReader, open_raw

EVT3_FILE = "evk4_evt3_prefix.raw"
EVT2_FILE = "gen3_evt2_prefix.raw"


def body(path, dtype):
    data = path.read_bytes()
    start = 0
    while data[start : start + 1] == b"%":
        start = data.index(b"\n", start) + 1
    return np.frombuffer(data[start:], dtype=dtype)


def rows(ev):
    return [tuple(int(v) for v in e) for e in ev]


def test_evk4_evt3_prefix(data_dir):
    path = data_dir / EVT3_FILE
    words = body(path, "<u2")
    # 0x8AAE time high 0xAAE, 0x66E0 time low 0x6E0, 0x013B row 315, 0x29E4 ON at x = 0x1E4 = 484, ...
    assert [hex(w) for w in words[:9]] == ["0x8aae", "0x66e0", "0x13b", "0x29e4", "0x66e1", "0xe7", "0x21da",
                                           "0x135", "0x29c2"]
    t0 = (0xAAE << 12) | 0x6E0
    kinds = words >> 12
    masks = np.where(kinds == 4, words & 0xFFF, np.where(kinds == 5, words & 0xFF, 0)).astype(np.int64)
    n_vector_events = sum(bin(m).count("1") for m in masks[masks != 0])
    with open_source(path) as src:
        assert isinstance(src, RawReader)
        assert (src.info.width, src.info.height, src.info.format) == (1280, 720, "evt3")
        assert src.info.metadata["plugin_name"] == "hal_plugin_imx636_evk4"
        assert src.info.metadata["serial_number"] == "00050567"
        ev = np.concatenate(list(src))
        assert rows(ev[:4]) == [(484, 315, 1, t0), (474, 231, 0, t0 + 1), (450, 309, 1, t0 + 1),
                                (492, 253, 0, t0 + 3)]
        assert len(ev) == int(np.sum(kinds == 2)) + n_vector_events == 164_885
        assert rows(ev[-1:]) == [(471, 298, 1, 11_591_228)]
        assert bool(np.all(np.diff(ev["t"]) >= 0))
        assert src.stats.other == {"CONTINUED_4": int(np.sum(kinds == 7)),
                                   "OTHERS": int(np.sum(kinds == 0xE)),
                                   "CONTINUED_12": int(np.sum(kinds == 0xF))}
        assert src.stats.skipped == {}
        info = src.scan()
        assert (info.start_time, info.end_time, info.event_count) == (t0, 11_591_228, 164_885)


def test_gen3_evt2_prefix_takes_its_geometry_from_the_plugin(data_dir):
    path = data_dir / EVT2_FILE
    words = body(path, "<u4")
    # 0x80D9D8D0: time high 0xD9D8D0; 0x100119BB: CD_ON, time low 0, x = 35, y = 443
    assert [hex(w) for w in words[:2]] == ["0x80d9d8d0", "0x100119bb"]
    t0 = 0xD9D8D0 << 6
    with open_source(path) as src:
        assert (src.info.width, src.info.height, src.info.format) == (640, 480, "evt2")
        assert src.info.metadata["geometry_source"] == "known sensor (plugin_name hal_plugin_gen3_fx3)"
        ev = np.concatenate(list(src))
    assert rows(ev[:2]) == [(35, 443, 1, t0), (36, 443, 1, t0)]
    assert len(ev) == int(np.sum((words >> 28) <= 1)) == 74_540
    assert rows(ev[-1:]) == [(83, 103, 0, 913_723_551)]
    assert int(ev["p"].sum()) == int(np.sum((words >> 28) == 1))


def test_geometry_smaller_than_the_data(data_dir):
    path = data_dir / EVT2_FILE
    with pytest.raises(CoordinateError, match="outside the 320x240 geometry"):
        read_events(path, geometry=(320, 240))
    with open_raw(path, geometry=(320, 240), strict=False) as src:
        ev = np.concatenate(list(src))
        assert len(ev) + src.stats.skipped["outside_geometry"] == 74_540
        assert int(ev["x"].max()) < 320 and int(ev["y"].max()) < 240


@pytest.mark.parametrize(("name", "chunk_bytes", "max_events"), [
    (EVT3_FILE, 4096, 1000), (EVT3_FILE, 6, 12), (EVT2_FILE, 4000, 999), (EVT2_FILE, 4, 1)])
def test_chunking_does_not_change_the_result(data_dir, name, chunk_bytes, max_events):
    path = data_dir / name
    whole = read_events(path)
    if chunk_bytes < 16:  # a chunk per word or so: compare the first few thousand events only
        got = []
        with open_raw(path, chunk_bytes=chunk_bytes, max_events=max_events) as src:
            for chunk in src._chunks_from(None):
                got.append(chunk.events)
                if sum(map(len, got)) > 3000:
                    break
        got = np.concatenate(got)
        np.testing.assert_array_equal(got, whole[: len(got)])
        return
    with open_raw(path, chunk_bytes=chunk_bytes, max_events=max_events) as src:
        parts = list(src)
    assert len(parts) > 10
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_resuming_from_any_checkpoint_gives_the_rest_of_the_file(data_dir):
    path = data_dir / EVT3_FILE
    with open_raw(path, chunk_bytes=20_000) as src:
        chunks = list(src._chunks_from(None))
        whole = np.concatenate([c.events for c in chunks])
        starts = np.cumsum([0] + [len(c.events) for c in chunks])
        for k in (1, 7, len(chunks) // 2, len(chunks) - 1):
            cp = chunks[k].checkpoint
            assert cp.state[0] == 1  # a time base is known there
            rest = np.concatenate([c.events for c in src._chunks_from(cp)])
            np.testing.assert_array_equal(rest, whole[starts[k]:])


def test_seek_after_a_first_pass_decodes_only_a_chunk_or_two(data_dir):
    path = data_dir / EVT3_FILE
    with open_raw(path, chunk_bytes=32_768) as src:
        whole = np.concatenate(list(src))  # the first pass builds the time index
        decoded = []
        original = src._chunks_from

        def counting(cp):
            for chunk in original(cp):
                decoded.append(chunk.checkpoint.offset)
                yield chunk

        src._chunks_from = counting
        t_mid = int(whole["t"][len(whole) // 2]) + 1
        src.seek(t_mid)
        got = next(src.slices(n_events=100))
        k = int(np.searchsorted(whole["t"], t_mid))
        np.testing.assert_array_equal(got, whole[k : k + 100])
        assert 1 <= len(decoded) <= 2
        window = src.read_window(t_mid, t_mid + 2000)
        np.testing.assert_array_equal(window, whole[(whole["t"] >= t_mid) & (whole["t"] < t_mid + 2000)])


def test_closed_source_cannot_decode(data_dir):
    src = open_raw(data_dir / EVT3_FILE, chunk_bytes=4096)
    it = iter(src._chunks_from(None))
    next(it)
    src.close()
    with pytest.raises(ValueError, match="closed"):
        next(it)
