"""Fuzz: random and mutated DAT, NumPy and text files give events or an EventFormatError, nothing else."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesight.io import EVENT_DTYPE, EventFormatError, concat_events, make_events, open_source, write_events


def _valid(tmp_path_factory, ext):
    ev = make_events(np.arange(40) % 30, np.arange(40) % 20, np.arange(40) % 2, np.arange(40) * 7 + 3)
    path = tmp_path_factory.mktemp("seed") / f"seed{ext}"
    write_events(path, ev, 30, 20)
    return path.read_bytes()


def _decode(tmp_path_factory, ext, data, strict):
    path = tmp_path_factory.mktemp("fuzz") / f"f{ext}"
    path.write_bytes(data)
    kw = {"strict": strict}
    if ext in (".npy", ".csv"):
        kw["geometry"] = (30, 20)
    fmt = {".dat": "dat", ".npy": "npy", ".csv": "text", ".txt": "text"}[ext]
    try:
        with open_source(path, format=fmt, **kw) as src:
            ev = concat_events(list(src))
            w, h = src.info.width, src.info.height
    except EventFormatError:
        return None
    assert ev.dtype == EVENT_DTYPE
    if not strict and len(ev):
        # what lenient mode keeps is valid for the geometry the file declares
        assert ev["x"].max() < w and ev["y"].max() < h
        assert set(np.unique(ev["p"]).tolist()) <= {0, 1}
    return ev


mutations = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=12)


def _mutate(data: bytes, muts, cut) -> bytes:
    b = bytearray(data)
    for pos, val in muts:
        b[pos % len(b)] = val
    return bytes(b[: max(0, len(b) - cut)])


for _ext in (".dat", ".npy", ".csv", ".txt"):

    def _make(ext=_ext):
        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(muts=mutations, cut=st.integers(0, 40), strict=st.booleans())
        def test_mutated(tmp_path_factory, muts, cut, strict):
            data = _mutate(_valid(tmp_path_factory, ext), muts, cut)
            _decode(tmp_path_factory, ext, data, strict)

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(data=st.binary(min_size=0, max_size=600), strict=st.booleans())
        def test_random(tmp_path_factory, data, strict):
            _decode(tmp_path_factory, ext, data, strict)

        return test_mutated, test_random

    globals()[f"test_mutated_{_ext[1:]}"], globals()[f"test_random_{_ext[1:]}"] = _make()
