"""Benchmark streaming gesture recognition on a CPU: latency per decision, decisions per second, energy.

Runs :class:`~spikesight.perception.gesture.pipeline.GesturePipeline` (the shipped weights, or
``--weights``) over a simulated DVS128 recording (128x128, a subject performing gestures; written
into a temporary folder by the simulator, or ``--file``), one decision every 50 ms over the sliding
window of the last T x dt, on 2 torch threads: without frame dropping, dropping frames under the
weights' threshold d_th (the paper's IAP; a random model has none, so half of each window's
frames, lowest scores first, are dropped instead), and dropping half the frames, each with the
spike monitor on (what the app runs: rasters, firing rates, energy) and off (what
``spikesight gesture`` runs). The contenders take turns step by step so that they share the same
machine load. Reports the best, median, mean and 95th-percentile latency, decisions per second
(1 / mean) against the real-time target (one decision every 50 ms = 20 per second), the fraction
of frames computed, and the energy estimate per decision (synaptic operations x energy per
operation; the same network as an ANN beside it). Without shipped weights it falls back to a
random model of the "small" config and says so. Prints a table and writes
bench/results/gesture.json. There is no peer to compare with (no other streaming TA-SNN exists
to install). Never asserted.

    .venv/bin/python bench/gesture.py [--weights NAME|PATH] [--file EVENTS] [--steps N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spikesight.io import read_events
from spikesight.io.sim.datasets import emulator_for
from spikesight.io.sim.recordings import write_gesture
from spikesight.perception.gesture import CONFIGS, GestureNet
from spikesight.perception.gesture.pipeline import DEFAULT_WEIGHTS, GesturePipeline
from spikesight.perception.gesture.task import GestureTask
from spikesight.perception.weights import WeightsError, read_manifest, resolve, save_weights

RESULTS = Path(__file__).parent / "results" / "gesture.json"
STEP_US = 50_000


def _weights(name: str, tmp: Path) -> tuple[str | Path, bool]:
    """The weights to run, and whether they are a random stand-in."""
    try:
        return resolve(name), False
    except WeightsError:
        if name != DEFAULT_WEIGHTS:
            raise
    print(f"no shipped weights {DEFAULT_WEIGHTS!r}: timing a RANDOM model of the 'small' config "
          "(speed and operation counts are representative, accuracy and decisions are not)")
    torch.manual_seed(0)
    net = GestureNet(CONFIGS["small"])
    manifest = {**GestureTask(tmp, "small", val_split="test").manifest(), "task": "gesture"}
    return save_weights(net.state_dict(), manifest, tmp / "gesture_random.pt"), True


def _recording(tmp: Path, quick: bool) -> Path:
    """A simulated DVS128 recording of a subject performing gestures (the dataset's geometry)."""
    gestures = [4, 1, 9] if quick else [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    emulator = emulator_for(7, noise_hz=(0.05, 0.3))  # as the simulated dataset's "lab" recordings
    info = write_gesture(tmp / "user01_lab", 7, gestures, emulator=emulator, gesture_seconds=(2.0, 2.5))
    return Path(info["events"])


def _contenders(weights: str | Path, random_model: bool) -> dict[str, GesturePipeline]:
    threshold = None if random_model else read_manifest(weights).get("metrics", {}).get("val", {}).get(
        "drop_threshold")
    rules: dict[str, dict] = {"no dropping": {"dropping": False}}
    if threshold is not None:
        rules[f"d_th {threshold:.3f}"] = {"drop_threshold": float(threshold)}
    rules["drop 50%"] = {"drop_fraction": 0.5}
    out = {}
    for monitor in (True, False):
        for rule, kwargs in rules.items():
            name = f"{rule}, monitor {'on' if monitor else 'off'}"
            out[name] = GesturePipeline(weights, monitor=monitor, every_ms=STEP_US / 1000, **kwargs)
    return out


def _run(pipelines: dict[str, GesturePipeline], events: np.ndarray, steps: int) -> dict[str, dict]:
    """Every pipeline steps over the same 50 ms slices, taking turns slice by slice."""
    t = events["t"]
    t0 = int(t[0])
    stats: dict[str, dict[str, list]] = {n: {"ms": [], "kept": [], "snn": [], "ann": [], "decided": []}
                                         for n in pipelines}
    for k in range(steps):
        a, b = t0 + k * STEP_US, t0 + (k + 1) * STEP_US
        lo, hi = np.searchsorted(t, [a, b])
        for name, p in pipelines.items():
            tic = time.perf_counter()
            r = p.step(events[lo:hi], a, b)
            ms = 1e3 * (time.perf_counter() - tic)
            if k < 3:  # warm-up: first calls, numba, allocator
                continue
            s = stats[name]
            s["ms"].append(ms)
            s["kept"].append(float(r.output.kept.mean()))
            s["decided"].append(r.output.decided is not None)
            if r.energy is not None:
                s["snn"].append(r.energy.snn_pj / 1e6)
                s["ann"].append(r.energy.ann_pj / 1e6)
    results = {}
    for name, s in stats.items():
        ms = sorted(s["ms"])
        mean = statistics.fmean(ms)
        results[name] = {
            "best_ms": ms[0],
            "median_ms": statistics.median(ms),
            "mean_ms": mean,
            "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
            "decisions_per_s": 1e3 / mean,
            "real_time_x": (STEP_US / 1e3) / mean,
            "kept_fraction": statistics.fmean(s["kept"]),
            "confident_fraction": statistics.fmean(s["decided"]),
            "snn_uj": statistics.fmean(s["snn"]) if s["snn"] else None,
            "ann_uj": statistics.fmean(s["ann"]) if s["ann"] else None,
            "steps": len(ms),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="weights name or .pt path")
    parser.add_argument("--file", type=Path, help="a DVS128 recording (default: simulate one)")
    parser.add_argument("--steps", type=int, default=0, help="50 ms steps (default: the whole recording)")
    parser.add_argument("--quick", action="store_true", help="a short recording, 60 steps at most")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights, random_model = _weights(args.weights, tmp)
        path = args.file or _recording(tmp, args.quick)
        events = read_events(path)
        duration = int(events["t"][-1] - events["t"][0]) + 1
        steps = args.steps or duration // STEP_US
        if args.quick:
            steps = min(steps, 60)
        pipelines = _contenders(weights, random_model)
        first = next(iter(pipelines.values()))
        print(f"{len(events):,} events over {duration / 1e6:.1f} s ({len(events) / duration:.3f} Mev/s); "
              f"T={first.T} x dt={first.dt_us / 1000:g} ms window, a decision every {STEP_US / 1000:g} ms, "
              f"{steps} steps, {torch.get_num_threads()} threads")
        results = _run(pipelines, events, steps)
    header = ("pipeline", "best", "median", "mean", "p95", "dec/s", "x real", "kept", "SNN µJ", "ANN µJ")
    print("{:30s} {:>7s} {:>7s} {:>7s} {:>7s} {:>7s} {:>7s} {:>6s} {:>8s} {:>8s}".format(*header))
    for name, r in results.items():
        energy = (f"{r['snn_uj']:8.3f} {r['ann_uj']:8.3f}" if r["snn_uj"] is not None
                  else f"{'-':>8s} {'-':>8s}")
        print(f"{name:30s} {r['best_ms']:7.1f} {r['median_ms']:7.1f} {r['mean_ms']:7.1f} {r['p95_ms']:7.1f} "
              f"{r['decisions_per_s']:7.1f} {r['real_time_x']:7.2f} {100 * r['kept_fraction']:5.0f}% "
              f"{energy}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "weights": "random small model (no shipped weights)" if random_model else str(weights),
        "recording": str(args.file) if args.file else "simulated DVS128 recording (write_gesture, seed 7)",
        "events": len(events),
        "duration_s": duration / 1e6,
        "step_ms": STEP_US / 1000,
        "target_decisions_per_s": 1e6 / STEP_US,
        "rows": [{"pipeline": name, **r} for name, r in results.items()],
    }, indent=2) + "\n")
    print(f"wrote {RESULTS} (latency in ms per decision; energy per decision)")


if __name__ == "__main__":
    main()
