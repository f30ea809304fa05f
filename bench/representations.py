"""Benchmark the event representations against their peers, on Gen1 geometry (304x240).

Two inputs: 10 M random events (throughput), and a realistic 50 ms window of 100 k events
(the live case, where fixed costs dominate); a 10-event window shows the fixed cost alone.
Peers run in the same process on the same events, each from its own native input (torch
int64 columns for the RVT-style code, a polars DataFrame for evlib, the structured array
for tonic), prepared outside the timing; producing a dense array is inside it:

- ``rvt-torch``: RVT's stacked histogram (Gehrig & Scaramuzza, CVPR 2023) rewritten from its
  description, a torch ``put_(accumulate=True)`` over flattened indices; the same scheme
  for the other histograms, bilinear voxels (E2VID's torch approach) and time surfaces
  (``scatter_reduce`` amax);
- ``tonic``: tonic's transforms (GPL: installed for this benchmark only, never imported by
  the library), where one exists;
- ``evlib``: evlib's polars representations, densified, where one exists;
- ``numpy``: plain vectorised numpy where that is what the reference code does (SpikeYOLO's
  latest-event painting, coordinate scaling).

Each timing is the best of several runs, interleaved with the peers' runs so that all see
the same load; "x faster" compares best times, "x median" the fastest peer's median with
ours (on a busy machine torch's intra-op threads stall, which the medians show). Prints a
table and writes bench/results/representations.json. Never asserted.

    .venv/bin/python bench/representations.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import torch

from spikesight.io import make_events
from spikesight.perception import representations as R

RESULTS = Path(__file__).parent / "results" / "representations.json"
W, H = 304, 240
BINS = 10
STEPS = 5
TAU = 10_000.0
Factory = Callable[["Data"], Callable[[], object]]


@dataclass
class Data:
    """One input in every peer's native form."""

    name: str
    events: np.ndarray
    x: torch.Tensor
    y: torch.Tensor
    p: torch.Tensor
    t: torch.Tensor
    df: object | None
    df_p: object | None

    @property
    def n(self) -> int:
        return len(self.events)


def make_data(name: str, n: int, duration_us: int, seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    ev = make_events(
        rng.integers(0, W, n),
        rng.integers(0, H, n),
        rng.integers(0, 2, n),
        np.sort(rng.integers(0, duration_us, n)),
    )
    cols = [torch.from_numpy(ev[f].astype(np.int64)) for f in ("x", "y", "p", "t")]
    try:
        import polars as pl

        df = pl.DataFrame(
            {
                "x": ev["x"].astype(np.int16),
                "y": ev["y"].astype(np.int16),
                "t": ev["t"],
                "polarity": ev["p"].astype(np.int8),
            }
        )
        df_p = df.rename({"polarity": "p"})  # evlib.rvt reads the polarity column as "p"
    except ImportError:
        df = df_p = None
    return Data(name, ev, *cols, df, df_p)


# ---------------------------------------------------------------- RVT-style torch peers


def rvt_histogram(d: Data, bins: int, cutoff: int | None) -> torch.Tensor:
    """RVT's StackedHistogram.construct, from its description: time normalised by the first and last
    event, floor, clamp into the last bin, one put_ with accumulate over flat indices, clamp."""
    x, y, p, t = d.x, d.y, d.p, d.t
    rep = torch.zeros((2, bins, H, W), dtype=torch.uint8 if cutoff else torch.float32)
    if len(t) == 0:
        return rep.reshape(-1, H, W)
    t_norm = (t - t[0]) / max(int(t[-1] - t[0]), 1) * bins
    t_idx = t_norm.floor().clamp(max=bins - 1).long()
    idx = x + W * y + H * W * t_idx + bins * H * W * p
    rep.put_(idx, torch.ones_like(idx, dtype=rep.dtype), accumulate=True)
    if cutoff:
        rep = rep.clamp(max=cutoff)
    return rep.reshape(-1, H, W)


def torch_sequence(d: Data, steps: int, cumulative: bool = False) -> torch.Tensor:
    rep = rvt_histogram(d, steps, None).reshape(2, steps, H, W).transpose(0, 1)
    return rep.cumsum(0) if cumulative else rep.contiguous()


def torch_voxel(d: Data, bins: int) -> torch.Tensor:
    """E2VID-style torch voxel grid: two index_put_ accumulations with bilinear weights."""
    x, y, p, t = d.x, d.y, d.p, d.t
    v = torch.zeros(bins * H * W, dtype=torch.float32)
    ts = (bins - 1) * (t - t[0]).double() / max(int(t[-1] - t[0]), 1)
    lo = ts.floor().long()
    frac = (ts - lo).float()
    pol = (2 * p - 1).float()
    base = x + W * y
    v.index_put_((base + lo * H * W,), pol * (1 - frac), accumulate=True)
    ok = lo + 1 < bins
    v.index_put_((base[ok] + (lo[ok] + 1) * H * W,), (pol * frac)[ok], accumulate=True)
    return v.reshape(bins, H, W)


def torch_time_surface(d: Data, tau: float) -> torch.Tensor:
    last = torch.full((2 * H * W,), -(2**62), dtype=torch.int64)
    last.scatter_reduce_(0, d.x + W * d.y + H * W * d.p, d.t, reduce="amax")
    out = torch.exp(-(d.t[-1] - last).double() / tau).float()
    return torch.where(last < 0, 0.0, out).reshape(2, H, W)


def numpy_spikeyolo(d: Data, steps: int) -> np.ndarray:
    """SpikeYOLO's painting as its preprocessing describes it: per slice, grey 127, then the
    events' pixels set to 255 * p by fancy assignment (the last event wins)."""
    ev = d.events
    t = ev["t"]
    t0, t1 = int(t[0]), int(t[-1]) + 1
    img = np.full((steps, H, W, 3), 127, dtype=np.uint8)
    edges = t0 + (np.arange(steps + 1) * (t1 - t0)) // steps
    bounds = np.searchsorted(t, edges)
    for k in range(steps):
        e = ev[bounds[k] : bounds[k + 1]]
        img[k, e["y"], e["x"], :] = 255 * e["p"][:, None]
    return img


def numpy_scale(d: Data, w: int, h: int) -> np.ndarray:
    ev = d.events
    out = np.empty_like(ev)
    out["x"] = ev["x"].astype(np.int32) * w // W
    out["y"] = ev["y"].astype(np.int32) * h // H
    out["p"] = ev["p"]
    out["t"] = ev["t"]
    return out


# ---------------------------------------------------------------- tonic and evlib peers


def tonic_peers() -> dict[str, Factory]:
    try:
        import tonic.transforms as T
    except ImportError:
        return {}
    s = (W, H, 2)
    return {
        "frame": lambda d: lambda: T.ToImage(s)(d.events),
        "histogram": lambda d: lambda: T.ToFrame(s, n_time_bins=BINS)(d.events),
        "cumulative": lambda d: lambda: np.cumsum(T.ToFrame(s, n_time_bins=STEPS)(d.events), axis=0),
        "voxel": lambda d: lambda: T.ToVoxelGrid(s, n_time_bins=5)(d.events),
        "time_surface": lambda d: (
            lambda: T.ToTimesurface(s, dt=int(d.events["t"][-1] - d.events["t"][0]) + 1, tau=TAU)(d.events)
        ),
        "frames_t": lambda d: lambda: T.ToFrame(s, n_time_bins=STEPS)(d.events),
        "resize": lambda d: lambda: T.Downsample(spatial_factor=(256 / W, 192 / H))(d.events),
    }


def _densify(df, keys: list[str], shape: tuple[int, ...], value: str) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float32)
    idx = tuple(df[k].to_numpy().astype(np.int64) for k in keys)
    out[idx] = df[value].to_numpy()
    return out


def evlib_peers() -> dict[str, Factory]:
    try:
        import evlib.representations as er
        import evlib.rvt as ervt
    except ImportError:
        return {}

    def hist(d: Data):
        t_end = np.array([int(d.events["t"][-1]) + 1], dtype=np.int64)
        span = int(t_end[0] - d.events["t"][0])

        return lambda: _densify(
            ervt.build_sparse_histogram(d.df_p, t_end, span, BINS, 10, H, W, False),
            ["channel", "y", "x"],
            (2 * BINS, H, W),
            "count",
        )

    def time_surface(d: Data):
        dt = float(int(d.events["t"][-1] - d.events["t"][0]) + 1)
        t_first = float(d.events["t"][0])
        return lambda: er.densify_time_surface(
            er.create_time_surface(d.df, H, W, dt=dt, tau=TAU), 1, 2, H, W, dt, TAU, t_first
        )

    return {
        "frame": lambda d: (
            lambda: er.densify_event_frame(er.create_event_frame(d.df, H, W, n_time_bins=1), 1, 2, H, W)
        ),
        "histogram": hist,
        "voxel": lambda d: (
            lambda: er.densify_voxel_grid(er.create_voxel_grid(d.df, H, W, n_time_bins=5), 5, H, W)
        ),
        "time_surface": time_surface,
        "frames_t": lambda d: (
            lambda: er.densify_event_frame(
                er.create_event_frame(d.df, H, W, n_time_bins=STEPS), STEPS, 2, H, W
            )
        ),
    }


# ---------------------------------------------------------------- cases


def cases() -> dict[str, tuple[Factory, dict[str, Factory]]]:
    """name -> (ours, {peer: factory}); a factory takes the data and returns the call to time."""
    scale = R.fit_to_model(W, H, (256, 192), "scale")
    ours = {
        "frame": lambda d: lambda: R.EventFrame(W, H)(d.events),
        "histogram": lambda d: lambda: R.StackedHistogram(W, H, bins=BINS, cutoff=10)(d.events),
        "histogram_u8": lambda d: (
            lambda: R.StackedHistogram(W, H, bins=BINS, cutoff=10, dtype="uint8")(d.events)
        ),
        "spikeyolo": lambda d: lambda: R.SpikeYOLOFrames(W, H, steps=STEPS, normalise=False)(d.events),
        "cumulative": lambda d: lambda: R.CumulativeStack(W, H, steps=STEPS)(d.events),
        "voxel": lambda d: lambda: R.VoxelGrid(W, H, bins=5)(d.events),
        "time_surface": lambda d: lambda: R.TimeSurface(W, H, tau=TAU)(d.events),
        "frames_t": lambda d: lambda: R.FrameSequence(W, H, steps=STEPS)(d.events),
        "resize": lambda d: lambda: scale(d.events),
    }
    peers: dict[str, dict] = {k: {} for k in ours}
    peers["frame"]["rvt-torch"] = lambda d: lambda: rvt_histogram(d, 1, None)
    # float32 out, as ours and as RVT feeds its model (ev_repr.to(float)); the uint8 row compares raw storage
    peers["histogram"]["rvt-torch"] = lambda d: lambda: rvt_histogram(d, BINS, 10).float()
    peers["histogram_u8"]["rvt-torch"] = lambda d: lambda: rvt_histogram(d, BINS, 10)
    peers["spikeyolo"]["numpy"] = lambda d: lambda: numpy_spikeyolo(d, STEPS)
    peers["cumulative"]["rvt-torch"] = lambda d: lambda: torch_sequence(d, STEPS, cumulative=True)
    peers["voxel"]["rvt-torch"] = lambda d: lambda: torch_voxel(d, 5)
    peers["time_surface"]["rvt-torch"] = lambda d: lambda: torch_time_surface(d, TAU)
    peers["frames_t"]["rvt-torch"] = lambda d: lambda: torch_sequence(d, STEPS)
    peers["resize"]["numpy"] = lambda d: lambda: numpy_scale(d, 256, 192)
    for label, source in (("tonic", tonic_peers()), ("evlib", evlib_peers())):
        for name, factory in source.items():
            peers[name][label] = factory
    peers["histogram_u8"].update({k: v for k, v in peers["histogram"].items() if k != "rvt-torch"})
    return {k: (ours[k], peers[k]) for k in ours}


def _time_all(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Best and median seconds per call, the calls interleaved so that all see the same load.

    Each call runs once to warm up (numba compilation, allocations); a call that fails
    there is reported with its error and left out.
    """
    live, out = {}, {}
    for name, fn in calls.items():
        try:
            fn()
            live[name] = fn
        except Exception as exc:  # a peer that cannot run this input is reported, not fatal
            out[name] = {"error": repr(exc)[:200]}
    times: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name, fn in live.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        out[name] = {"best": min(ts), "median": statistics.median(ts)}
    return out


def _entry(best: float, median: float, n: int) -> dict:
    return {"best_ms": best * 1e3, "median_ms": median * 1e3, "Mev_per_s": n / best / 1e6}


def rate_row(repeats: int) -> dict:
    """Rate coding of a 3 x 240 x 304 frame into 5 steps: ours against torch's generators."""
    frame = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    size = STEPS * frame.numel()
    timed = _time_all(
        {
            "ours": lambda: R.RateCoding(STEPS, seed=1)(frame),
            "torch.bernoulli": lambda: torch.bernoulli(frame.expand(STEPS, *frame.shape), generator=gen),
            "torch.rand<x": lambda: (torch.rand((STEPS, *frame.shape), generator=gen) < frame).float(),
        },
        repeats,
    )
    return _row("rate", "3x240x304 frame, 5 steps (M draws/s)", size, timed)


def _row(name: str, data: str, n: int, timed: dict[str, dict]) -> dict:
    row: dict = {"name": name, "data": data, "n": n, "peers": {}}
    for key, v in timed.items():
        entry = v if "error" in v else _entry(v["best"], v["median"], n)
        if key == "ours":
            row["ours"] = entry
        else:
            row["peers"][key] = entry
    ok = {k: v for k, v in row["peers"].items() if "best_ms" in v}
    if ok:
        fastest = min(ok, key=lambda k: ok[k]["best_ms"])
        row["fastest_peer"] = fastest
        row["speedup"] = ok[fastest]["best_ms"] / row["ours"]["best_ms"]
        row["speedup_median"] = min(v["median_ms"] for v in ok.values()) / row["ours"]["median_ms"]
    return row


def _print_row(row: dict) -> None:
    ours = row["ours"]
    if "fastest_peer" in row:
        peer = row["peers"][row["fastest_peer"]]
        peer_txt = f"{row['fastest_peer']:16s} {peer['best_ms']:9.3f} {row['speedup']:8.1f}"
        peer_txt += f" {row['speedup_median']:8.1f}"
    else:
        peer_txt = f"{'-':16s} {'':9s} {'':8s} {'':8s}"
    print(f"{row['name']:13s} {row['data']:38s} {ours['best_ms']:9.3f} {ours['Mev_per_s']:8.1f}  {peer_txt}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 M events instead of 10 M, fewer repeats")
    ap.add_argument("--only", nargs="*", help="representation names to run")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--torch-threads", type=int, help="torch intra-op threads for the torch peers (default: torch's)"
    )
    args = ap.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    warnings.filterwarnings("ignore")
    big_n = 1_000_000 if args.quick else 10_000_000
    inputs = [
        (make_data(f"{big_n // 1_000_000} M random events / 1 s", big_n, 1_000_000), 2 if args.quick else 5),
        (make_data("50 ms window, 100 k events", 100_000, 50_000, seed=1), 10 if args.quick else 30),
        (make_data("50 ms window, 10 events (fixed cost)", 10, 50_000, seed=2), 50),
    ]
    rows = []
    header = f"{'name':13s} {'input':38s} {'ours ms':>9s} {'Mev/s':>8s}  {'fastest peer':16s} {'ms':>9s}"
    header += f" {'x faster':>8s} {'x median':>8s}"
    print(header)
    print("-" * len(header))
    for name, (ours, peers) in cases().items():
        if args.only and name not in args.only:
            continue
        for data, repeats in inputs:
            calls = {"ours": ours(data)}
            calls.update({peer: factory(data) for peer, factory in peers.items()})
            row = _row(name, data.name, data.n, _time_all(calls, repeats))
            _print_row(row)
            rows.append(row)
    if not args.only or "rate" in args.only:
        row = rate_row(10 if args.quick else 30)
        _print_row(row)
        rows.append(row)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "geometry": [W, H],
        "note": "best of several runs on a shared 2-core machine; rate coding in M draws/s",
    }
    for pkg in ("tonic", "evlib", "polars"):
        try:
            meta[pkg] = __import__(pkg).__version__
        except (ImportError, AttributeError):
            meta[pkg] = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
