"""Read throughput (Mev/s) of the DAT, NumPy and text readers beside simple peers.

One core (the process is pinned to CPU 0). For each format a generated file is read three
ways: ``open_source`` iterated to the end (what users get), the reader's own chunk decoding
alone (``_chunks_from``, without the slicing buffer's copies), and a peer: expelliarmus for
DAT (when installed), ``np.load`` for .npy/.npz, ``np.loadtxt`` for text. Prints a table and
writes JSON.

    .venv/bin/python bench/simple_formats.py [--events 20000000] [--text-events 2000000] [--repeat 3]
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

import numpy as np

from spikesight.io import EVENT_DTYPE, open_source, write_events


def generate(n: int, width: int = 1280, height: int = 720, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, max(n // 10, 1), n))
    ev["x"] = rng.integers(0, width, n)
    ev["y"] = rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def ours(path: str) -> int:
    with open_source(path, geometry=(1280, 720)) as src:
        return sum(len(ev) for ev in src)


def ours_chunks(path: str) -> int:
    with open_source(path, geometry=(1280, 720)) as src:
        return sum(len(c.events) for c in src._chunks_from(None))


def peer_expelliarmus(path: str) -> int:
    from expelliarmus import Wizard

    return len(Wizard(encoding="dat", fpath=path).read())


def peer_npy(path: str) -> int:
    data = np.load(path)
    return len(data["t"]) if path.endswith(".npz") else len(data)


def peer_loadtxt(path: str) -> int:
    if path.endswith(".csv"):
        return len(np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64))
    return len(np.loadtxt(path, skiprows=1))


def timed(fn: Callable[[str], int], path: str, repeat: int) -> tuple[float, int]:
    best, n = float("inf"), -1
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(path)
        best = min(best, time.perf_counter() - t)
    return best, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=float, default=20e6, help="events in the binary files")
    ap.add_argument("--text-events", type=float, default=2e6, help="events in the text files")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "simple_formats.json"))
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    tmp = tempfile.mkdtemp(prefix="spikesight-bench-")
    ev = generate(int(max(args.events, args.text_events)))
    peers = {".dat": ("expelliarmus", peer_expelliarmus), ".npy": ("np.load", peer_npy),
             ".npz": ("np.load", peer_npy), ".txt": ("np.loadtxt", peer_loadtxt),
             ".csv": ("np.loadtxt", peer_loadtxt)}
    rows = []
    for ext, (peer_name, peer) in peers.items():
        n = int(args.text_events if ext in (".txt", ".csv") else args.events)
        path = os.path.join(tmp, f"generated{ext}")
        write_events(path, ev[:n], 1280, 720)
        for name, fn in (("spikesight", ours), ("spikesight chunks only", ours_chunks), (peer_name, peer)):
            try:
                sec, got = timed(fn, path, args.repeat)
            except Exception as exc:  # a peer that is not installed is reported, not fatal
                rows.append({"format": ext, "reader": name, "error": str(exc)[:80]})
                continue
            rows.append({"format": ext, "reader": name, "events": got, "seconds": sec,
                         "mev_s": got / sec / 1e6, "mb_s": os.path.getsize(path) / sec / 1e6})
        os.remove(path)
    print(f"{'format':<7} {'reader':<24} {'events':>12} {'Mev/s':>8} {'MB/s':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['format']:<7} {r['reader']:<24} failed: {r['error']}")
        else:
            print(f"{r['format']:<7} {r['reader']:<24} {r['events']:>12,} {r['mev_s']:>8.1f} "
                  f"{r['mb_s']:>8.1f}")
    meta = {"python": sys.version.split()[0], "machine": platform.machine(), "cores_used": 1,
            "cpu_count": os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
