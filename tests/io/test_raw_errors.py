"""Bad RAW input: empty, headerless, wrong header, truncated; and fuzzing of every decoder with random
and mutated bytes (events or an EventFormatError, never another exception or a hang)."""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesight.io import (
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TruncatedError,
    open_source,
    read_events,
)
from spikesight.io.raw import open_raw

HEADERS = {
    "evt2": b"% evt 2.0\n% format EVT2;height=48;width=64\n% end\n",
    "evt21": b"% evt 2.1\n% format EVT21;height=48;width=64\n% end\n",
    "evt21-legacy": b"% evt 2.1\n% format EVT21;endianness=legacy;height=48;width=64\n% end\n",
    "evt3": b"% evt 3.0\n% format EVT3;height=48;width=64\n% end\n",
}
WORD_BYTES = {"evt2": 4, "evt21": 8, "evt21-legacy": 8, "evt3": 2}

# one valid event in each encoding: a time high, then a CD event at (3, 2), t = 64 (EVT 2.x) or 4096
VALID = {
    "evt2": struct.pack("<II", 0x8000_0001, 0x1000_0000 | 3 << 11 | 2),
    "evt21": struct.pack("<QQ", 0x8000_0001 << 32, (0x1000_0000 | 3 << 11 | 2) << 32 | 1),
    "evt21-legacy": struct.pack("<IIII", 0x8000_0001, 0, 0x1000_0000 | 3 << 11 | 2, 1),
    "evt3": struct.pack("<HHH", 0x8001, 0x0002, 0x2800 | 3),
}


def write(tmp_path, data, name="t.raw"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_empty_file(tmp_path):
    path = write(tmp_path, b"")
    with pytest.raises(EmptyFileError):
        open_source(path)
    with pytest.raises(EmptyFileError):
        open_raw(path)


def test_missing_or_wrong_header(tmp_path):
    with pytest.raises(HeaderError, match="does not start"):
        open_source(write(tmp_path, VALID["evt3"] * 4, "noheader.raw"))
    dat = b"% Height 720\n% Version 2\n% Width 1280\n" + bytes([12, 8]) + bytes(16)
    with pytest.raises(HeaderError, match="no encoding"):
        open_raw(write(tmp_path, dat, "dat_header.raw"))


@pytest.mark.parametrize("encoding", sorted(HEADERS))
def test_header_only_file_has_no_events(tmp_path, encoding):
    path = write(tmp_path, HEADERS[encoding])
    with open_raw(path) as src:
        assert list(src) == []
        assert src.scan().event_count == 0


@pytest.mark.parametrize("encoding", sorted(HEADERS))
def test_valid_event_in_every_encoding(tmp_path, encoding):
    ev = read_events(write(tmp_path, HEADERS[encoding] + VALID[encoding]))
    t = 4096 if encoding == "evt3" else 64
    assert [tuple(int(v) for v in e) for e in ev] == [(3, 2, 1, t)]


@pytest.mark.parametrize(("encoding", "extra"), [
    (enc, extra) for enc, ws in sorted(WORD_BYTES.items()) for extra in sorted({1, ws // 2, ws - 1})])
def test_truncated_last_word(tmp_path, encoding, extra):
    data = HEADERS[encoding] + VALID[encoding] + VALID[encoding][:extra]
    path = write(tmp_path, data)
    with open_raw(path) as src:
        with pytest.raises(TruncatedError) as e:
            list(src)
    assert e.value.offset == len(data) - extra
    assert f"at byte {len(data) - extra}" in str(e.value)
    with open_raw(path, strict=False) as src:
        assert len(np.concatenate(list(src))) == 1
        assert src.stats.skipped == {"truncated_word": 1}


# -- fuzzing ------------------------------------------------------------------------------------

def check_decodes_or_fails_cleanly(path, width=64, height=48):
    """Strict: events or an EventFormatError. Lenient: never an error; events inside the geometry
    and in time order."""
    try:
        with open_raw(path, chunk_bytes=64, max_events=40) as src:
            for _ in src:
                pass
    except EventFormatError:
        pass
    with open_raw(path, strict=False, chunk_bytes=64, max_events=40) as src:
        parts = list(src)
        src.scan()
    if parts:
        ev = np.concatenate(parts)
        assert int(ev["x"].max()) < width and int(ev["y"].max()) < height
        assert bool(np.all(np.diff(ev["t"]) >= 0))
        assert set(np.unique(ev["p"]).tolist()) <= {0, 1}


FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(encoding=st.sampled_from(sorted(HEADERS)), data=st.binary(max_size=600))
def test_random_bytes_after_a_valid_header(tmp_path, encoding, data):
    check_decodes_or_fails_cleanly(write(tmp_path, HEADERS[encoding] + VALID[encoding] + data))


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_as_a_whole_file(tmp_path, data):
    path = write(tmp_path, data)
    try:
        src = open_raw(path, geometry=(64, 48))
    except EventFormatError:
        return
    src.close()
    check_decodes_or_fails_cleanly(path)


@pytest.fixture(scope="module")
def real_starts(request):
    root = request.config.rootpath / "tests" / "data"
    names = ("evk4_evt3_prefix.raw", "gen3_evt2_prefix.raw")
    return {name: (root / name).read_bytes()[:6000] for name in names}


@FUZZ
@given(name=st.sampled_from(["evk4_evt3_prefix.raw", "gen3_evt2_prefix.raw"]),
       flips=st.lists(st.tuples(st.integers(0, 5999), st.integers(1, 255)), min_size=1, max_size=8),
       cut=st.integers(200, 6000))
def test_mutated_real_recordings(tmp_path, real_starts, name, flips, cut):
    data = bytearray(real_starts[name])
    start = 0
    while data[start : start + 1] == b"%":  # mutate the events, not the header
        start = data.index(b"\n", start) + 1
    for pos, xor in flips:
        if pos >= start + 8:
            data[pos] ^= xor
    path = write(tmp_path, bytes(data[: max(cut, start + 8)]))
    width, height = (1280, 720) if name.startswith("evk4") else (640, 480)
    check_decodes_or_fails_cleanly(path, width, height)
