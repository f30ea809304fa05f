"""Choose the detector's default input by measured mAP: SpikeYOLO's Gen1 frames vs the stacked histogram.

Trains the same model (scale, T, window, input size, seed, schedule, step budget) once per
representation and seed through the shared trainer, then evaluates each run's best weights on the
held-out split. Prints a table (mAP@50:95, mAP@50 on val and on the held-out split, training time) and
writes it as JSON. The representation with the higher mean held-out mAP@50:95 wins; with several
seeds the table shows the spread, so a difference smaller than it is called a tie.

    .venv/bin/python tools/compare_detection_inputs.py --data /work/data/street --out runs/compare \\
        --epochs 3 --threads 2 [--seeds 0 1] [--max-steps-per-epoch 300]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import torch

from spikesight.perception.detection.config import DetectorConfig
from spikesight.perception.detection.inputs import REPRESENTATIONS, DetectionInput
from spikesight.perception.detection.task import DEFAULTS, SENSOR, DetectionTask
from spikesight.perception.training import TrainConfig, Trainer
from spikesight.perception.training.cli import evaluate_weights


def run_one(args: argparse.Namespace, representation: str, seed: int) -> dict:
    inputs = DetectionInput.for_sensor(*SENSOR, args.input_scale, representation, args.T,
                                       round(args.window_ms * 1000))
    task = DetectionTask(args.data, DetectorConfig(args.config, 2, inputs.channels), inputs, seed=seed)
    out = args.out / f"{representation}_seed{seed}"
    cfg = TrainConfig(out=out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                      workers=args.workers, device=args.device, threads=args.threads,
                      max_steps_per_epoch=args.max_steps_per_epoch, name=f"detect_{representation}")
    command = (f"tools/compare_detection_inputs.py --representation {representation} --seed {seed} "
               f"--config {args.config} --T {args.T} --window-ms {args.window_ms:g} "
               f"--input-scale {args.input_scale:g} --epochs {args.epochs}")
    t0 = time.monotonic()
    summary = Trainer(task, cfg, command=command, data=str(args.data), progress=not args.quiet).fit()
    seconds = time.monotonic() - t0
    weights = Path(summary["weights"])
    held_out = evaluate_weights("detect", weights, args.data, args.split, args.batch_size, args.device)
    best_val = max(summary["history"], key=lambda row: row.get("val_map50_95", float("-inf")))
    return {
        "representation": representation,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "best_epoch": summary["best_epoch"],
        "val_map50_95": best_val.get("val_map50_95"),
        "val_map50": best_val.get("val_map50"),
        f"{args.split}_map50_95": held_out["map50_95"],
        f"{args.split}_map50": held_out["map50"],
        f"{args.split}_ap50_car": held_out.get("ap50_car"),
        f"{args.split}_ap50_pedestrian": held_out.get("ap50_pedestrian"),
        "weights": str(weights),
    }


def main(argv: list[str] | None = None) -> int:
    d = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="Gen1-layout dataset with train/ val/ test/")
    p.add_argument("--out", type=Path, default=Path("runs/compare_detection_inputs"))
    p.add_argument("--representations", nargs="+", default=list(REPRESENTATIONS), choices=REPRESENTATIONS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--split", default="test", help="held-out split scored at the end (default test)")
    p.add_argument("--config", default=d["scale"])
    p.add_argument("--T", type=int, default=d["steps"])
    p.add_argument("--window-ms", type=float, default=d["window_ms"])
    p.add_argument("--input-scale", type=float, default=d["input_scale"])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps-per-epoch", type=int, default=0, help="cap each epoch (0: whole set)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=TrainConfig().lr)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = [run_one(args, rep, seed) for seed in args.seeds for rep in args.representations]
    key = f"{args.split}_map50_95"
    print(f"\n{'representation':>15s} {'seed':>4s} {'val mAP50:95':>12s} {'val mAP50':>9s} "
          f"{args.split + ' mAP50:95':>14s} {args.split + ' mAP50':>11s} {'train s':>8s}")
    for r in rows:
        print(f"{r['representation']:>15s} {r['seed']:>4d} {r['val_map50_95']:>12.4f} {r['val_map50']:>9.4f} "
              f"{r[key]:>14.4f} {r[f'{args.split}_map50']:>11.4f} {r['train_seconds']:>8.0f}")
    means = {rep: [r[key] for r in rows if r["representation"] == rep] for rep in args.representations}
    summary = {rep: {"mean": statistics.fmean(v), "stdev": statistics.stdev(v) if len(v) > 1 else None}
               for rep, v in means.items()}
    winner = max(summary, key=lambda rep: summary[rep]["mean"])
    scores = ", ".join(f"{rep} {s['mean']:.4f}" for rep, s in summary.items())
    print(f"\nhigher mean {key}: {winner} ({scores})")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "runs": rows, "summary": summary, "winner": winner,
              "threads": torch.get_num_threads(), "device": args.device}
    (args.out / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
