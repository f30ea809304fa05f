"""Read throughput (Mev/s) of Metavision HDF5 files, uncompressed and compressed, beside plain h5py.

Writes one generated recording per compression (``MetavisionH5Writer``, chunks of 16384 events)
and reads it fully with spikesight (checked, converted, chunk by chunk) and with h5py (the raw
read floor: the whole ``/CD/events`` dataset in one call, and in 2^18-event slices, with no
checks and no conversion). Runs on one core (the process is pinned to CPU 0). Prints a table
and writes JSON.

    .venv/bin/python bench/hdf5_read.py [--events 10000000] [--repeat 3] [--compressions none,gzip]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from spikesight.io import EVENT_DTYPE, open_source
from spikesight.io.hdf5 import MetavisionH5Writer


def ours(path: str) -> int:
    with open_source(path) as src:
        return sum(len(ev) for ev in src)


def h5py_whole(path: str) -> int:
    with h5py.File(path, "r") as f:
        return len(f["CD/events"][...])


def h5py_slices(path: str) -> int:
    n = 0
    with h5py.File(path, "r") as f:
        d = f["CD/events"]
        for a in range(0, d.shape[0], 1 << 18):
            n += len(d[a : a + (1 << 18)])
    return n


DECODERS: list[tuple[str, Callable[[str], int]]] = [
    ("spikesight", ours),
    ("h5py whole dataset", h5py_whole),
    ("h5py 2^18 slices", h5py_slices),
]


def generate(
    path: str, n: int, compression: str, width: int = 1280, height: int = 720, seed: int = 0
) -> None:
    """Random pixels, about 10 Mev/s of sorted timestamps, written 2 M events at a time."""
    rng = np.random.default_rng(seed)
    t0 = 0
    with MetavisionH5Writer(path, width, height, compression=compression) as w:
        for i in range(0, n, 2_000_000):
            m = min(2_000_000, n - i)
            ev = np.empty(m, dtype=EVENT_DTYPE)
            ev["t"] = t0 + np.sort(rng.integers(0, m // 10, m))
            ev["x"] = rng.integers(0, width, m)
            ev["y"] = rng.integers(0, height, m)
            ev["p"] = rng.integers(0, 2, m)
            t0 = int(ev["t"][-1]) + 1
            w.write(ev)


def timed(fn: Callable[[str], int], path: str, repeat: int) -> tuple[float, int]:
    best, n = float("inf"), -1
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(path)
        best = min(best, time.perf_counter() - t)
    return best, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=float, default=10e6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compressions", default="none,gzip,blosc,zstd,lz4")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hdf5_read.json"))
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    n_gen = int(args.events)
    ours(_warm_up_file())
    rows = []
    with tempfile.TemporaryDirectory(prefix="spikesight-bench-h5-") as tmp:
        for comp in args.compressions.split(","):
            path = os.path.join(tmp, f"{comp}.hdf5")
            generate(path, n_gen, comp)
            size = os.path.getsize(path)
            for name, fn in DECODERS:
                sec, n = timed(fn, path, args.repeat)
                rows.append(
                    {
                        "compression": comp,
                        "decoder": name,
                        "events": n,
                        "bytes_per_event": size / n_gen,
                        "seconds": sec,
                        "mev_s": n / sec / 1e6,
                        "agrees": n == n_gen,
                    }
                )
    print(f"{'compression':<12} {'B/event':>8} {'decoder':<20} {'events':>12} {'Mev/s':>8}")
    for r in rows:
        note = "" if r["agrees"] else "  count differs"
        print(
            f"{r['compression']:<12} {r['bytes_per_event']:>8.2f} {r['decoder']:<20} {r['events']:>12,} "
            f"{r['mev_s']:>8.1f}{note}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "h5py": h5py.version.version,
        "hdf5": h5py.version.hdf5_version,
        "machine": platform.machine(),
        "cores_used": 1,
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"# wrote {args.out}")
    return 0


def _warm_up_file() -> str:
    """A tiny file read once first, so numba's compilation is not timed."""
    path = os.path.join(tempfile.gettempdir(), "spikesight-bench-h5-warmup.hdf5")
    generate(path, 1000, "none")
    return path


if __name__ == "__main__":
    sys.exit(main())
