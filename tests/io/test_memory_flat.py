"""Streaming a few hundred MB keeps memory flat: sources read bounded chunks, never the whole file."""

import tracemalloc

import numpy as np
import pytest

from spikesight.io import EVENT_DTYPE, open_source, open_writer

N_EVENTS = 30_000_000  # 240 MB as DAT, ~100+ MB as EVT 3.0
CHUNK = 1_000_000


def _write(path, fmt, n):
    rng = np.random.default_rng(5)
    ev = np.empty(CHUNK, dtype=EVENT_DTYPE)
    t0 = 0
    with open_writer(path, 1280, 720, format=fmt) as w:
        for _ in range(n // CHUNK):
            ev["x"] = rng.integers(0, 1280, CHUNK)
            ev["y"] = rng.integers(0, 720, CHUNK)
            ev["p"] = rng.integers(0, 2, CHUNK)
            ev["t"] = t0 + np.arange(CHUNK) // 4
            t0 = int(ev["t"][-1]) + 1
            w.write(ev)


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "name"), [("dat", "big_td.dat"), ("evt3", "big.raw")])
def test_streaming_a_large_file_keeps_memory_flat(tmp_path, fmt, name):
    path = tmp_path / name
    _write(path, fmt, N_EVENTS)
    size = path.stat().st_size
    assert size > 100e6
    tracemalloc.start()
    try:
        n = 0
        last = -1
        with open_source(path) as src:
            for ev in src.slices(delta_t=50_000):
                n += len(ev)
                if len(ev):
                    assert ev["t"][0] >= last
                    last = int(ev["t"][-1])
            _, peak = tracemalloc.get_traced_memory()
            # a seek into the middle reuses the index built on the pass above
            src.seek(N_EVENTS // 8)
            mid = next(src.slices(n_events=10))
    finally:
        tracemalloc.stop()
    assert n == N_EVENTS
    assert mid["t"][0] == N_EVENTS // 8
    # peak Python/numpy allocations stay far below the file size (and the decoded size, 16 B/event)
    assert peak < 120e6, f"peak {peak / 1e6:.0f} MB while streaming a {size / 1e6:.0f} MB file"
    assert peak < size / 2
