"""The "scene prior" baseline for depth: one map, the mean training log depth of each pixel, for every frame.

A depth network that has learnt only the layout of its scenes (road near at the bottom, far in the
middle) scores about what this map scores; the README's depth table compares with it. Averaging is
in normalised log depth (the network's own output space), over the frames where the pixel has a
depth; pixels never seen get the mean of all. Metrics are those of ``spikesight eval depth``.

    python tools/depth_prior.py --data DATA [--split test] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spikesight.perception.data.mvsec import DepthRecording, split_recordings
from spikesight.perception.depth.convert import depth_to_log, log_to_depth
from spikesight.perception.depth.metrics import DepthMetrics

MAX_DEPTH, ALPHA = 80.0, 3.7


def mean_log_map(data: Path, split: str = "train") -> np.ndarray:
    """The per-pixel mean normalised log depth over every map of ``split``."""
    total = count = None
    for rec in split_recordings(data, split):
        r = DepthRecording(rec)
        for k in tqdm(r.maps(), desc=f"prior {rec.name}", leave=False):
            log = depth_to_log(r.depth(k).astype(np.float64), MAX_DEPTH, ALPHA)
            ok = np.isfinite(log)
            if total is None:
                total, count = np.zeros(log.shape), np.zeros(log.shape)
            total[ok] += log[ok]
            count[ok] += 1
        r.close()
    if total is None:
        raise ValueError(f"no depth maps in the {split!r} split of {data}")
    mean = total.sum() / count.sum()
    return np.where(count > 0, total / np.maximum(count, 1), mean)


def score(prior: np.ndarray, data: Path, split: str) -> dict[str, float]:
    """The metrics of the prior map against every map of ``split``."""
    metric = DepthMetrics(max_depth=MAX_DEPTH)
    pred = log_to_depth(prior, MAX_DEPTH, ALPHA)
    for rec in split_recordings(data, split):
        r = DepthRecording(rec)
        for k in tqdm(r.maps(), desc=f"score {rec.name}", leave=False):
            metric.update(pred, r.depth(k))
        r.close()
    return metric.compute()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="MVSEC-layout folder with train/ and the split")
    p.add_argument("--split", default="test", help="split to score (default test)")
    p.add_argument("--json", type=Path, help="write the metrics here")
    args = p.parse_args(argv)
    metrics = score(mean_log_map(args.data), args.data, args.split)
    for name, value in metrics.items():
        print(f"{name:>10s} {value:.4f}")
    if args.json:
        out = {"baseline": "scene prior", "data": str(args.data), "split": args.split, "metrics": metrics}
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
