"""Decode throughput (Mev/s) of spikesight's readers beside the peers that install from PyPI.

Runs on one core (the process is pinned to CPU 0), on the real recordings of the project's
shared samples folder (when present) and on generated files of ``--events`` events, each
decoder fully decoding each file. Counts are checked against ours: a peer that decodes a
different number of events is marked, not hidden. Prints a table and writes JSON.

``hdf5-ecf`` (Metavision HDF5 compressed with Prophesee's ECF codec) adds rows for our decoder
on all the CPUs the process may use, and encode rows (writing the file's events again, up to
``--encode-events``); Prophesee's own codec is a peer only when its HDF5 plugin is on
``HDF5_PLUGIN_PATH`` (the table says when it is absent).

    .venv/bin/python bench/io.py [--events 50000000] [--repeat 3] [--samples ../shared/samples]
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

from spikesight.io import open_source, open_writer

Decoder = Callable[[str], int]


def ours(path: str) -> int:
    n = 0
    with open_source(path) as src:
        for ev in src:
            n += len(ev)
    return n


def peer_evt3(path: str) -> int:
    import evt3

    return sum(len(b) for b in evt3.decode_file_batches(path))


def peer_expelliarmus(encoding: str) -> Decoder:
    def run(path: str) -> int:
        from expelliarmus import Wizard

        return len(Wizard(encoding=encoding, fpath=path).read())

    return run


def peer_faery(path: str) -> int:
    import faery

    return sum(len(p) for p in faery.events_stream_from_file(path))


def peer_evlib(path: str) -> int:
    import evlib

    return len(evlib.load_events(path, sort=False).collect())


def peer_dv(path: str) -> int:
    import dv_processing as dv

    rec = dv.io.MonoCameraRecording(path)
    n = 0
    while rec.isRunning():
        batch = rec.getNextEventBatch()
        if batch is not None:
            n += len(batch.numpy())
    return n


def peer_h5py(path: str) -> int:
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(path, "r") as f:
        return len(f["CD/events"][...])


# -- HDF5 with ECF ------------------------------------------------------------------------------

ECF_FILTER = 0x8ECF
PLUGIN_ABSENT = "absent: no ECF filter on HDF5_PLUGIN_PATH (Prophesee's hdf5_ecf plugin)"


def ecf_plugin_present() -> bool:
    import h5py

    return bool(h5py.h5z.filter_avail(ECF_FILTER))


def peer_ecf_plugin(path: str) -> int:
    """Prophesee's C++ codec: h5py reads /CD/events through the plugin's filter."""
    import h5py

    if not ecf_plugin_present():
        raise RuntimeError(PLUGIN_ABSENT)
    with h5py.File(path, "r") as f:
        return len(f["CD/events"][...])


def ours_threads(threads: int) -> Decoder:
    def run(path: str) -> int:
        n = 0
        with open_source(path, threads=threads) as src:
            for ev in src:
                n += len(ev)
        return n

    return run


class all_cpus:
    """Lift the one-core pin for a parallel row (threads started inside inherit it)."""

    def __enter__(self) -> int:
        self.pinned = os.sched_getaffinity(0)
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
        return len(os.sched_getaffinity(0))

    def __exit__(self, *exc: object) -> None:
        os.sched_setaffinity(0, self.pinned)


def encode_ours(threads: int, compression: str = "ecf") -> Callable[[np.ndarray, str], None]:
    def run(ev: np.ndarray, path: str) -> None:
        kw = {"threads": threads} if compression == "ecf" else {}
        with open_writer(path, 1280, 720, compression=compression, **kw) as w:
            w.write(ev)

    return run


def encode_ecf_events_only(ev: np.ndarray, path: str) -> None:
    """Our codec alone, as the plugin row does it: /CD/events only, no index, no checks."""
    import h5py

    from spikesight.io.ecf import encode_chunks

    with h5py.File(path, "w") as f:
        d = f.create_dataset("CD/events", shape=(len(ev),), dtype=ev.dtype, chunks=(16384,), maxshape=(None,),
                             compression=ECF_FILTER, allow_unknown_filter=True)
        buf, starts, sizes = encode_chunks(ev, 16384, check=False)
        for k, (a, size) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
            d.id.write_direct_chunk((k * 16384,), buf[a : a + size], filter_mask=0)


def encode_ecf_plugin(ev: np.ndarray, path: str) -> None:
    """Prophesee's encoder through h5py: /CD/events only, chunks of 16384, no index."""
    import h5py

    if not ecf_plugin_present():
        raise RuntimeError(PLUGIN_ABSENT)
    with h5py.File(path, "w") as f:
        f.create_dataset("CD/events", data=ev, chunks=(16384,), maxshape=(None,), compression=ECF_FILTER)


def ecf_rows(label: str, path: str, repeat: int, n_ref: int, max_encode: int) -> list[dict]:
    """Our decoder on every usable CPU, then encoders writing the file's events again."""
    rows: list[dict] = []
    base = {"format": "hdf5-ecf", "file": label}
    if hasattr(os, "sched_setaffinity"):
        with all_cpus() as cpus:
            if cpus > 1:
                sec, n = timed(ours_threads(cpus), path, repeat)
                rows.append({**base, "decoder": f"spikesight {cpus} threads", "events": n, "seconds": sec,
                             "mev_s": n / sec / 1e6, "agrees": n == n_ref})
    with open_source(path) as src:
        ev = next(src.slices(n_events=max_encode))
    out = os.path.join(os.path.dirname(path), "encoded.hdf5")
    encoders = [("encode: spikesight ECF", encode_ours(1)),
                ("encode: spikesight, events only", encode_ecf_events_only),
                ("encode: Prophesee, events only", encode_ecf_plugin),
                ("encode: spikesight gzip", encode_ours(1, "gzip"))]
    if hasattr(os, "sched_setaffinity"):
        encoders.insert(1, ("encode: spikesight ECF all", None))
    for name, fn in encoders:
        try:
            if fn is None:
                with all_cpus() as cpus:
                    name = f"encode: spikesight ECF {cpus} thr"
                    sec, _ = timed(lambda p: encode_ours(cpus)(ev, p), out, repeat)
            else:
                sec, _ = timed(lambda p, fn=fn: fn(ev, p), out, repeat)
        except Exception as exc:
            rows.append({**base, "decoder": name, "error": str(exc)[:80]})
            continue
        size = os.path.getsize(out)
        rows.append({**base, "decoder": name, "events": len(ev), "seconds": sec, "mev_s": len(ev) / sec / 1e6,
                     "agrees": True, "note": f"{size / max(len(ev), 1):.2f} bytes/event"})
    return rows


PEERS: dict[str, list[tuple[str, Decoder]]] = {
    "evt3": [("evt3", peer_evt3), ("expelliarmus", peer_expelliarmus("evt3")), ("faery", peer_faery),
             ("evlib", peer_evlib)],
    "evt2": [("expelliarmus", peer_expelliarmus("evt2")), ("faery", peer_faery), ("evlib", peer_evlib)],
    "dat": [("expelliarmus", peer_expelliarmus("dat")), ("faery", peer_faery), ("evlib", peer_evlib)],
    "hdf5": [("h5py whole dataset", peer_h5py), ("evlib", peer_evlib)],
    "hdf5-ecf": [("h5py + Prophesee plugin", peer_ecf_plugin), ("evlib", peer_evlib)],
    "aedat4": [("dv-processing", peer_dv), ("faery", peer_faery), ("evlib", peer_evlib)],
}


def timed(fn: Decoder, path: str, repeat: int) -> tuple[float, int]:
    best, n = float("inf"), -1
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(path)
        best = min(best, time.perf_counter() - t)
    return best, n


def generate(kind: str, path: str, n: int, width=1280, height=720, seed=0) -> None:
    """A synthetic recording: random pixels, ~10 Mev/s, bursts of events on shared rows."""
    rng = np.random.default_rng(seed)
    opts = {"compression": "none"} if kind == "hdf5" else {}  # hdf5-ecf: the writer's default, ECF
    fmt = {"evt3": "evt3", "evt2": "evt2"}.get(kind)
    with open_writer(path, width, height, format=fmt, **opts) as w:
        chunk = 2_000_000
        t0 = 0
        for i in range(0, n, chunk):
            m = min(chunk, n - i)
            ev = np.empty(m, dtype=[("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
            ev["t"] = t0 + np.sort(rng.integers(0, m // 10, m))
            ev["y"] = rng.integers(0, height, m)
            ev["x"] = rng.integers(0, width, m)
            ev["p"] = rng.integers(0, 2, m)
            t0 = int(ev["t"][-1]) + 1
            w.write(ev)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=float, default=50e6, help="events in each generated file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", default=str(Path(__file__).resolve().parents[2] / "shared" / "samples"))
    ap.add_argument("--formats", default="evt3,evt2,dat,hdf5,hdf5-ecf,aedat4")
    ap.add_argument("--encode-events", type=float, default=10e6, help="events re-encoded in hdf5-ecf rows")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "io.json"))
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    formats = args.formats.split(",")
    samples = Path(args.samples)
    cases: list[tuple[str, str, str]] = []
    real = {"evt3": "evk4_evt3.raw", "evt2": "gen3_evt2.raw", "dat": "evk4_same_as_evt3.dat",
            "aedat4": "davis346.aedat4", "hdf5-ecf": "evk4_metavision_ecf.hdf5"}
    for kind, name in real.items():
        if kind in formats and (samples / name).exists():
            cases.append((kind, f"real {name}", str(samples / name)))
    tmp = tempfile.mkdtemp(prefix="spikesight-bench-")
    ext = {"evt3": ".raw", "evt2": ".raw", "dat": ".dat", "hdf5": ".hdf5", "hdf5-ecf": ".hdf5",
           "aedat4": ".aedat4"}
    n_gen = int(args.events)
    for kind in formats:
        path = os.path.join(tmp, f"generated_{kind}{ext[kind]}")
        try:
            generate(kind, path, n_gen)
        except Exception as exc:  # a writer that is missing is reported, not fatal
            print(f"# cannot generate {kind}: {exc}", file=sys.stderr)
            continue
        cases.append((kind, f"generated {n_gen / 1e6:.0f} M", path))

    rows = []
    for kind, label, path in cases:
        repeat = args.repeat if os.path.getsize(path) < 200e6 else 1
        sec, n_ref = timed(ours, path, repeat)
        rows.append({"format": kind, "file": label, "decoder": "spikesight", "events": n_ref,
                     "seconds": sec, "mev_s": n_ref / sec / 1e6, "agrees": True})
        for name, fn in PEERS.get(kind, []):
            try:
                sec, n = timed(fn, path, repeat)
            except Exception as exc:
                rows.append({"format": kind, "file": label, "decoder": name, "error": str(exc)[:80]})
                continue
            rows.append({"format": kind, "file": label, "decoder": name, "events": n, "seconds": sec,
                         "mev_s": n / sec / 1e6, "agrees": n == n_ref})
        if kind == "hdf5-ecf":
            rows += ecf_rows(label, path, repeat, n_ref, int(args.encode_events))
    print(f"{'format':<8} {'file':<30} {'decoder':<32} {'events':>12} {'Mev/s':>8}  note")
    for r in rows:
        head = f"{r['format']:<8} {r['file']:<30} {r['decoder']:<32}"
        if "error" in r:
            failed = "" if r["error"].startswith("absent") else "failed: "
            print(f"{head} {'':>12} {'':>8}  {failed}{r['error']}")
            continue
        note = r.get("note", "") if r["agrees"] else "count differs from spikesight"
        print(f"{head} {r['events']:>12,} {r['mev_s']:>8.1f}  {note}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": sys.version.split()[0], "machine": platform.machine(), "cores_used": 1,
            "cpu_count": os.cpu_count(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
