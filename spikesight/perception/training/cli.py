"""``spikesight train TASK`` and ``spikesight eval TASK``: every task through the one trainer.

The task's own options (``--config``, ``--representation`` ...) come from its
``add_arguments``; they are parsed after the task name so ``spikesight train detect --help``
lists them. ``eval`` rebuilds the task from the weights' manifest, so the evaluation uses
exactly the input and model the weights were trained with.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import shlex
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TASKS: dict[str, str] = {
    "detect": "spikesight.perception.detection.task:DetectionTask",
    "depth": "spikesight.perception.depth.task:DepthTask",
    "gesture": "spikesight.perception.gesture.task:GestureTask",
}
"""Task name -> ``module:class`` of its :class:`~.task.TrainTask` (imported only when used)."""


def task_class(name: str) -> Any:
    if name not in TASKS:
        raise SystemExit(f"spikesight: unknown task {name!r}; choose one of {', '.join(TASKS)}")
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def _train_parser(task: str, cls: Any) -> argparse.ArgumentParser:
    from .config import TrainConfig

    d = TrainConfig()
    p = argparse.ArgumentParser(prog=f"spikesight train {task}",
                                description=f"train the {task} model (one process, or torchrun with DDP)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder")
    p.add_argument("--out", type=Path, default=Path(f"runs/{task}"), help="run folder (default runs/TASK)")
    p.add_argument("--name", default="", help="name of the exported weights (default: the task and config)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per process")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    p.add_argument("--grad-clip", type=float, default=d.grad_clip)
    p.add_argument("--workers", type=int, default=d.workers, help="data loader processes")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (0: torch's default)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps (0: epoch ends)")
    p.add_argument("--max-steps-per-epoch", type=int, default=0, help="cap an epoch (0: the whole set)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", default="", help="start from these weights (.pt + manifest), not at random")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    cls.add_arguments(p)
    return p


def cmd_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .trainer import Trainer

    cls = task_class(args.task)
    ns = _train_parser(args.task, cls).parse_args(args.rest)
    task = cls.from_args(ns)
    name = ns.name or getattr(task, "default_name", "") or args.task
    cfg = TrainConfig(out=ns.out, epochs=ns.epochs, batch_size=ns.batch_size, lr=ns.lr,
                      weight_decay=ns.weight_decay, warmup_epochs=ns.warmup_epochs, grad_clip=ns.grad_clip,
                      workers=ns.workers, seed=ns.seed, device=ns.device, threads=ns.threads,
                      checkpoint_every=ns.checkpoint_every, max_steps_per_epoch=ns.max_steps_per_epoch,
                      name=name, init=ns.init)
    command = "spikesight train " + " ".join(shlex.quote(a) for a in [args.task, *args.rest])
    summary = Trainer(task, cfg, command=command, data=str(ns.data),
                      progress=None if not ns.quiet else False).fit(resume=ns.resume)
    print(f"best {task.metric} {summary['best']} at epoch {summary['best_epoch']}; "
          f"weights {summary['weights']}")
    return 0


def _eval_parser(task: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"spikesight eval {task}",
                                description=f"evaluate {task} weights on a dataset split")
    p.add_argument("--data", type=Path, required=True, help="dataset folder")
    p.add_argument("--weights", required=True, help="shipped weights name or a .pt path")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--json", type=Path, help="write the metrics here")
    p.add_argument("--report", type=Path, help="folder for the task's extra report (plots, curves)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--write-manifest", action="store_true",
                   help="record the metrics in the weights' manifest under metrics.<split>")
    return p


def evaluate_weights(task_name: str, weights: str | Path, data: Path, split: str = "test",
                     batch_size: int = 8, device: str = "auto",
                     report: Path | None = None) -> dict[str, Any]:
    """Metrics of ``weights`` on ``data``'s ``split`` (plus the task's report if ``report``)."""
    import torch

    from ..weights import load_weights
    from .distributed import resolve_device
    from .trainer import evaluate

    state, manifest = load_weights(weights, task=task_name)
    cls = task_class(task_name)
    task = cls.from_manifest(manifest, Path(data), split)
    dev = resolve_device(device)
    model = task.build_model()
    model.load_state_dict(state)
    model.to(dev)
    _, ds = task.datasets()
    metrics = evaluate(task, model, ds, dev, batch_size)
    if report is not None and hasattr(task, "report"):
        report.mkdir(parents=True, exist_ok=True)
        model.eval()
        with torch.no_grad():
            metrics["report"] = task.report(model, dev, report)
    return metrics


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from ..weights import read_manifest, resolve, write_manifest
    from .trainer import jsonable

    ns = _eval_parser(args.task).parse_args(args.rest)
    if ns.threads:
        torch.set_num_threads(ns.threads)
    metrics = jsonable(evaluate_weights(args.task, ns.weights, ns.data, ns.split, ns.batch_size,
                                         ns.device, ns.report))
    for k, v in metrics.items():
        if isinstance(v, float):
            print(f"{k:>24s}  {v:.4f}" if math.isfinite(v) else f"{k:>24s}  {v}")
    text = json.dumps({"task": args.task, "weights": str(ns.weights), "data": str(ns.data),
                       "split": ns.split, "metrics": metrics}, indent=2)
    if ns.json:
        ns.json.write_text(text + "\n")
    if ns.write_manifest:
        path = resolve(ns.weights)
        manifest = read_manifest(path)
        manifest.setdefault("metrics", {})[ns.split] = metrics
        manifest.setdefault("eval_commands", {})[ns.split] = (
            "spikesight eval " + " ".join(shlex.quote(a) for a in [args.task, *args.rest]))
        write_manifest(path, manifest)
    return 0


def add_training_parsers(subparsers) -> None:
    """``train`` and ``eval`` with the task name first; the rest is parsed per task."""
    for cmd, func, text in (("train", cmd_train, "train a task's model (see `spikesight train TASK --help`)"),
                            ("eval", cmd_eval, "evaluate weights on a dataset split")):
        sp = subparsers.add_parser(cmd, help=text, description=text)
        sp.add_argument("task", choices=sorted(TASKS))
        sp.add_argument("rest", nargs=argparse.REMAINDER)
        sp.set_defaults(func=func)


def main(argv: list[str] | None = None) -> int:
    """``python -m spikesight.perception.training.cli train TASK ...`` (what torchrun launches)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    p = argparse.ArgumentParser(prog="spikesight")
    add_training_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
