"""Benchmark the depth pipeline on CPU: maps per second and latency at 346x260, SNN against its ANN twin.

Each contender is a :class:`~spikesight.perception.depth.pipeline.DepthPipeline` (representation,
network, decoding to metres at the sensor's geometry: what the app and ``spikesight depth`` run) fed
consecutive 50 ms windows of a simulated drive (the depth scene of ``spikesight simulate depth``, MVSEC's
346x260 geometry), membranes carried across windows. The SNN uses the shipped weights when there are
some (``--weights``), else a randomly initialised network of the same config, which the output says
(speed does not depend on the weights, but firing rates and so the energy estimate do). The ANN twin is
the same config with ``ann=True`` (random weights unless ``--ann-weights``). The two take turns window
by window, so they share the machine's load; on 2 threads (``torch.set_num_threads(2)``). Latency is
per window (best, median, 95th percentile), maps per second is 1 / mean latency; the energy estimate is
the mean per window of the spike monitor's synaptic-operation count (a separate monitored pass).
``--data DIR`` also times the MVSEC dataset loader (one sample: read the window's events and depth
map, build the input). Prints a table and writes bench/results/depth.json. Never asserted.

    .venv/bin/python bench/depth.py [--quick] [--weights NAME|PATH] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from spikesight.perception.depth import DEPTH_CONFIGS, build_depth_model
from spikesight.perception.depth.inputs import DepthInput
from spikesight.perception.depth.pipeline import DEFAULT_WEIGHTS, DepthPipeline
from spikesight.perception.weights import WeightsError

RESULTS = Path(__file__).parent / "results" / "depth.json"


def drive(seconds: float, seed: int = 0) -> np.ndarray:
    """Events of a simulated drive through the depth scene (346x260), ``seconds`` long."""
    from spikesight.io.emulator import EmulatorConfig
    from spikesight.io.events import concat_events
    from spikesight.io.sim.depth import DepthScene
    from spikesight.io.sim.runner import run

    frames = run(DepthScene(seed), seconds, 200.0, EmulatorConfig(seed=seed))
    return concat_events([fr.events for fr in frames])


def contenders(weights: str, ann_weights: str | None, monitor: bool) -> tuple[dict[str, DepthPipeline], dict]:
    """The SNN and ANN pipelines, and where their weights came from."""
    info = {}
    try:
        snn = DepthPipeline(weights, monitor=monitor)
        info["snn_weights"] = str(weights)
    except WeightsError as err:
        torch.manual_seed(0)
        cfg = DEPTH_CONFIGS["tiny"]
        rep = DepthInput(steps=cfg.steps, multiple=cfg.multiple)
        snn = DepthPipeline.from_model(build_depth_model(cfg), rep, monitor=monitor)
        info["snn_weights"] = f"random init of config 'tiny' (no weights: {err})"
    try:
        if ann_weights is None:
            raise WeightsError("none given")
        ann = DepthPipeline(ann_weights, monitor=monitor)
        info["ann_weights"] = str(ann_weights)
    except WeightsError as err:
        torch.manual_seed(0)
        cfg = replace(snn.config, ann=True)
        ann = DepthPipeline.from_model(build_depth_model(cfg), snn.input, monitor=monitor)
        info["ann_weights"] = f"random init of the SNN's config with ann=True ({err})"
    return {"SNN": snn, "ANN twin": ann}, info


def windows(events: np.ndarray, window_us: int) -> list[tuple[np.ndarray, int, int]]:
    t0 = int(events["t"][0])
    edges = np.arange(t0, int(events["t"][-1]) + 1, window_us)
    cut = np.searchsorted(events["t"], edges)
    bounds = zip(cut[:-1], cut[1:], edges[:-1], strict=True)
    return [(events[a:b], int(s), int(s) + window_us) for a, b, s in bounds]


def time_pipelines(pipes: dict[str, DepthPipeline], wins: list, warmup: int = 2) -> dict[str, dict]:
    times: dict[str, list[float]] = {name: [] for name in pipes}
    for p in pipes.values():
        p.reset()
    for k, w in enumerate(wins):
        for name, p in pipes.items():
            t = time.perf_counter()
            p.step(*w)
            if k >= warmup:
                times[name].append(time.perf_counter() - t)
    out = {}
    for name, ts in times.items():
        mean = statistics.fmean(ts)
        out[name] = {"maps_per_s": 1.0 / mean, "latency_best_ms": 1e3 * min(ts),
                     "latency_median_ms": 1e3 * statistics.median(ts),
                     "latency_p95_ms": 1e3 * float(np.percentile(ts, 95)), "windows": len(ts)}
    return out


def energy(pipes: dict[str, DepthPipeline], wins: list) -> dict[str, dict]:
    out = {}
    for name, p in pipes.items():
        p.reset()
        results = [p.step(*w) for w in wins]
        e = [r.energy for r in results if r.energy is not None]
        rates = [float(np.mean([layer.firing_rate for layer in r.layers])) for r in results if r.layers]
        out[name] = {"energy_uj_per_map": 1e6 * statistics.fmean(x.snn_energy_j for x in e),
                     "ann_equivalent_uj_per_map": 1e6 * statistics.fmean(x.ann_energy_j for x in e),
                     "mean_firing_rate": statistics.fmean(rates) if rates else None}
    return out


def time_loader(data: Path, samples: int) -> dict:
    from spikesight.perception.data.mvsec import mvsec_depth

    t = time.perf_counter()
    ds = mvsec_depth(data, "test", DepthInput())
    opened = time.perf_counter() - t
    idx = np.linspace(0, len(ds) - 1, min(samples, len(ds))).astype(int)
    ds[int(idx[0])]  # numba kernels compiled / cached
    ts = []
    for i in idx:
        t = time.perf_counter()
        ds[int(i)]
        ts.append(time.perf_counter() - t)
    events = [len(ds.window(int(i))[0]) for i in idx]
    return {"split": "test", "samples": len(ts), "open_and_index_s": opened,
            "sample_median_ms": 1e3 * statistics.median(ts), "sample_best_ms": 1e3 * min(ts),
            "mean_events_per_sample": float(np.mean(events))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s of events instead of 4")
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="SNN weights (default: the shipped ones)")
    parser.add_argument("--ann-weights", default=None, help="ANN twin weights (default: random init)")
    parser.add_argument("--data", type=Path, help="also time the MVSEC loader on this dataset's test split")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seconds = 1.0 if args.quick else 4.0
    events = drive(seconds)
    fast, info = contenders(args.weights, args.ann_weights, monitor=False)
    snn = fast["SNN"]
    wins = windows(events, snn.window_us)
    print(f"SNN weights: {info['snn_weights']}\nANN weights: {info['ann_weights']}")
    print(f"{len(wins)} windows of {snn.window_us / 1000:g} ms, {len(events) / seconds / 1e3:.0f} kev/s, "
          f"sensor {snn.sensor[0]}x{snn.sensor[1]}, model input {snn.input.model_size[0]}x"
          f"{snn.input.model_size[1]}, T={snn.input.steps}, {snn.input.representation}, 2 threads")
    speed = time_pipelines(fast, wins)
    monitored, _ = contenders(args.weights, args.ann_weights, monitor=True)
    power = energy(monitored, wins[: min(len(wins), 8)])
    rows = []
    print(f"{'model':10s} {'maps/s':>8s} {'best':>8s} {'median':>8s} {'p95':>8s}   {'uJ/map':>9s} "
          f"{'ANN-eq uJ':>9s} {'rate':>6s}")
    for name in fast:
        s, e = speed[name], power[name]
        rate = e["mean_firing_rate"]
        print(f"{name:10s} {s['maps_per_s']:8.1f} {s['latency_best_ms']:8.1f} {s['latency_median_ms']:8.1f} "
              f"{s['latency_p95_ms']:8.1f}   {e['energy_uj_per_map']:9.2f} "
              f"{e['ann_equivalent_uj_per_map']:9.2f} "
              f"{'' if rate is None else f'{rate:6.3f}'}")
        rows.append({"model": name, **s, **e})
    e_snn, e_ann = power["SNN"]["energy_uj_per_map"], power["ANN twin"]["energy_uj_per_map"]
    print(f"energy ratio ANN twin / SNN (estimate): {e_ann / e_snn:.1f}x; latency in ms per 50 ms window")
    loader = time_loader(args.data, 50) if args.data else None
    if loader:
        print(f"MVSEC loader ({args.data}, {loader['split']}): "
              f"{loader['sample_median_ms']:.1f} ms per sample "
              f"(median, {loader['mean_events_per_sample']:.0f} events), index built in "
              f"{loader['open_and_index_s']:.2f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), **info,
        "events_per_s": len(events) / seconds, "window_us": snn.window_us,
        "input": snn.input.to_dict(), "config": snn.config.to_dict(),
        "energy_ratio_ann_over_snn": e_ann / e_snn, "rows": rows, "loader": loader}, indent=2))
    print(f"wrote {RESULTS} (times per window; latency includes the representation and decoding)")


if __name__ == "__main__":
    main()
