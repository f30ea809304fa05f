"""Benchmark the streaming SpikeYOLO detector on a CPU: latency per window, windows per second, energy.

Runs :class:`~spikesight.perception.detection.pipeline.DetectionPipeline` (the shipped weights, or
``--weights``) over 50 ms windows of the demo recording (Gen1 geometry, 304x240), on 2 torch threads,
in integer mode and in spike-driven mode (D binary virtual steps), each with the spike monitor on
(what the app runs: rasters, firing rates, energy) and off (what ``spikesight detect`` runs). The
contenders take turns window by window so that they share the same machine load. Also times
the input alone (events -> tensor). Reports the best, median and mean latency, windows per second
(1 / mean) against the real-time target (20 windows of 50 ms per second), and the energy estimate
per window (synaptic operations x energy per operation; the same network as an ANN beside it).
Without shipped weights it falls back to a random tiny model of the training defaults and says so.
Prints a table and writes bench/results/detection.json. Never asserted.

On a busy machine, OpenMP's default active wait makes 2 torch threads stall each other (measured here:
ten times slower than 1 thread); ``OMP_WAIT_POLICY=PASSIVE`` avoids it. The policy in force is printed
and recorded.

    [OMP_WAIT_POLICY=PASSIVE] .venv/bin/python bench/detection.py [--weights NAME|PATH] [--windows N]
        [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spikesight.io import open_source
from spikesight.perception.detection.config import DetectorConfig
from spikesight.perception.detection.inputs import DetectionInput
from spikesight.perception.detection.model import SpikeYOLO
from spikesight.perception.detection.pipeline import DEFAULT_WEIGHTS, DetectionPipeline
from spikesight.perception.weights import WeightsError, resolve, save_weights

RESULTS = Path(__file__).parent / "results" / "detection.json"
DEMO = Path(__file__).resolve().parent.parent / "spikesight" / "assets" / "demo" / "street.raw"
STEP_US = 50_000


def random_weights(folder: Path) -> Path:
    """A random tiny SpikeYOLO with the training defaults' input, saved as weights with a manifest."""
    from spikesight.perception.detection.task import CLASSES, DEFAULTS, SENSOR

    spec = DetectionInput.for_sensor(*SENSOR, DEFAULTS["input_scale"], DEFAULTS["representation"],
                                     DEFAULTS["steps"], round(DEFAULTS["window_ms"] * 1000))
    cfg = DetectorConfig(DEFAULTS["scale"], len(CLASSES), spec.channels)
    torch.manual_seed(0)
    manifest = {"task": "detect", "config": dataclasses.asdict(cfg), "classes": list(CLASSES),
                "input": spec.to_dict(), "conf": 0.25, "iou": 0.7}
    return save_weights(SpikeYOLO(cfg).state_dict(), manifest, folder / "random_tiny.pt")


def demo_windows(count: int, start_us: int = 1_000_000) -> list[tuple[np.ndarray, int, int]]:
    """``count`` consecutive 50 ms windows of the demo recording from ``start_us`` after its start."""
    with open_source(DEMO) as src:
        t0 = src.first_timestamp() + start_us
        src.seek(t0 - 250_000)  # the first window also gets the 250 ms before it
        out = []
        for win in src.windows(delta_t=STEP_US):
            out.append((win.events.copy(), win.t_start, win.t_end))
            if len(out) == count + 5:
                break
    return out


def measure(weights: Path, windows: list[tuple[np.ndarray, int, int]], threads: int) -> dict[str, dict]:
    contenders = {
        (mode, monitor): DetectionPipeline(weights, spike_driven=mode == "spike-driven", threads=threads,
                                           step_us=STEP_US, monitor=monitor)
        for mode in ("integer", "spike-driven")
        for monitor in (True, False)
    }
    spec = next(iter(contenders.values())).input
    latencies: dict = {key: [] for key in contenders}
    latencies["input only"] = []
    energy: dict = {key: [] for key in contenders}
    boxes: dict = {key: [] for key in contenders}
    warm = 5  # the first windows fill the 250 ms buffer and warm the caches
    buffer: list[np.ndarray] = []
    for k, (events, t0, t1) in enumerate(windows):
        buffer = [*buffer[-5:], events]
        t = time.perf_counter()
        spec(np.concatenate(buffer), t1)
        if k >= warm:
            latencies["input only"].append(time.perf_counter() - t)
        for key, pipe in contenders.items():
            r = pipe.step(events, t0, t1)
            if k < warm:
                continue
            latencies[key].append(r.latency_s)
            boxes[key].append(len(r.output))
            if r.energy is not None:
                energy[key].append(r.energy)
    rows = {}
    for key, ts in latencies.items():
        name = key if isinstance(key, str) else f"{key[0]}, monitor {'on' if key[1] else 'off'}"
        mean = statistics.fmean(ts)
        row = {"best_ms": 1e3 * min(ts), "median_ms": 1e3 * statistics.median(ts), "mean_ms": 1e3 * mean,
               "windows_per_s": 1 / mean, "real_time_factor": STEP_US / 1e6 / mean}
        if not isinstance(key, str):
            row["boxes_per_window"] = statistics.fmean(boxes[key])
            if energy[key]:
                row["snn_uj_per_window"] = statistics.fmean(e.snn_pj for e in energy[key]) / 1e6
                row["ann_uj_per_window"] = statistics.fmean(e.ann_pj for e in energy[key]) / 1e6
                row["sops_per_window"] = statistics.fmean(e.sops for e in energy[key])
                row["mac_ops_per_window"] = statistics.fmean(e.mac_ops for e in energy[key])
        rows[name] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights",
                        help=f"weights name or .pt path (default: the shipped {DEFAULT_WEIGHTS})")
    parser.add_argument("--windows", type=int, default=40, help="50 ms windows timed (default 40)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="10 windows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    policy = os.environ.get("OMP_WAIT_POLICY", "default (active)")
    count = 10 if args.quick else args.windows
    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights, random = resolve(args.weights or DEFAULT_WEIGHTS), False
        except WeightsError:
            if args.weights:
                raise
            weights, random = random_weights(Path(tmp)), True
        label = "random tiny model (no shipped weights yet)" if random else str(weights)
        windows = demo_windows(count)
        rows = measure(weights, windows, args.threads)
        manifest = json.loads(weights.with_suffix(".json").read_text())
    spec = manifest["input"]
    print(f"weights: {label}")
    print(f"input: {spec['representation']}, T={spec['steps']}, {spec['window_us'] / 1e3:g} ms, "
          f"sensor {spec['sensor_width']}x{spec['sensor_height']} -> model {spec['width']}x{spec['height']} "
          f"({spec['mode']}); scale {manifest['config']['scale']}; {args.threads} torch threads "
          f"(OMP_WAIT_POLICY {policy}); "
          f"{count} windows of {STEP_US / 1e3:g} ms of the demo recording")
    print(f"{'':28s} {'best':>8s} {'median':>8s} {'mean':>8s} {'win/s':>7s} {'x real':>7s} "
          f"{'boxes':>6s} {'SNN µJ':>8s} {'ANN µJ':>8s}")
    for name, r in rows.items():
        energy = (f"{r['snn_uj_per_window']:8.1f} {r['ann_uj_per_window']:8.1f}"
                  if "snn_uj_per_window" in r else f"{'':8s} {'':8s}")
        boxes = f"{r['boxes_per_window']:6.1f}" if "boxes_per_window" in r else f"{'':6s}"
        print(f"{name:28s} {r['best_ms']:8.1f} {r['median_ms']:8.1f} {r['mean_ms']:8.1f} "
              f"{r['windows_per_s']:7.1f} {r['real_time_factor']:7.2f} {boxes} {energy}")
    print("(ms per window; target: over 20 windows/s, i.e. x real > 1; energy: 45 nm estimate per window)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "torch": torch.__version__,
        "threads": args.threads,
        "omp_wait_policy": policy,
        "machine": platform.processor() or platform.machine(),
        "weights": label,
        "random_weights": random,
        "input": spec,
        "config": manifest["config"],
        "step_ms": STEP_US / 1e3,
        "windows": count,
        "rows": rows,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
