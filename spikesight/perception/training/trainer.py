"""One trainer for every task: single process or ``torchrun`` DDP, exact resume, logs and export.

The task (:class:`~.task.TrainTask`) brings the model, data, loss and metrics; the trainer
brings the rest: seeding, a deterministic sampler (the same batches on one process or many),
AdamW with linear warm-up and cosine decay, gradient clipping, a tqdm bar, ``last.pt``
checkpoints every ``checkpoint_every`` steps and at each epoch end (written atomically),
``best.pt`` and the exported weights (``<name>.pt`` + manifest) whenever the validation metric
improves, a CSV log and a plot of the curves. ``fit(resume=True)`` continues from ``last.pt``
to the same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..weights import load_weights, save_weights
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .distributed import Dist, all_reduce_mean, barrier, broadcast_object, setup, teardown
from .log import plot_curves, write_csv
from .task import TrainTask

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, an empty dataset)."""


class _Skip(Sampler[int]):
    """The indices of ``sampler`` after the first ``skip`` (resuming inside an epoch)."""

    def __init__(self, sampler: Sampler[int], skip: int) -> None:
        self.indices = list(sampler)[skip:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights (matrices and kernels), none on biases, norms and scalars."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, total: int, warmup: int, final_ratio: float) -> float:
    """Linear warm-up from near 0 to 1 over ``warmup`` steps, then cosine to ``final_ratio``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _set_epoch(ds: Dataset, epoch: int) -> None:
    if hasattr(ds, "set_epoch"):
        ds.set_epoch(epoch)


class Trainer:
    """Train ``task`` as ``config`` says; ``command`` and ``data`` go into the manifest."""

    def __init__(self, task: TrainTask, config: TrainConfig, command: str = "", data: str = "",
                 progress: bool | None = None) -> None:
        if task.metric_mode not in ("max", "min"):
            raise ValueError(f"metric_mode must be 'max' or 'min', got {task.metric_mode!r}")
        self.task = task
        self.config = config
        self.command = command or " ".join(sys.argv)
        self.data = data
        self.name = config.name or task.name
        self.out = config.out
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.model: nn.Module | None = None
        """The model being trained (set by :meth:`fit`)."""

    # -- set-up --------------------------------------------------------------------------------

    def _better(self, value: float, best: float | None) -> bool:
        if not math.isfinite(value):
            return False
        return best is None or (value > best if self.task.metric_mode == "max" else value < best)

    def _loader(self, ds: Dataset, sampler: Sampler[int], epoch: int) -> DataLoader:
        """Batches in the sampler's order; its own generator keeps the global RNG (dropout) untouched."""
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, collate_fn=self.task.collate,
                          num_workers=cfg.workers, drop_last=True, generator=gen)

    def _sampler(self, ds: Dataset, d: Dist) -> DistributedSampler:
        return DistributedSampler(ds, num_replicas=d.world, rank=d.rank, shuffle=True,
                                  seed=self.config.seed, drop_last=True)

    def steps_per_epoch(self, n_train: int, world: int) -> int:
        steps = (n_train // world) // self.config.batch_size
        if self.config.max_steps_per_epoch:
            steps = min(steps, self.config.max_steps_per_epoch)
        return steps

    # -- the loop ------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Train to ``config.epochs``; returns the summary (best metric and epoch, paths)."""
        cfg = self.config
        d = setup(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        try:
            return self._fit(d, resume)
        finally:
            teardown(d)

    def _fit(self, d: Dist, resume: bool) -> dict[str, Any]:
        cfg, task = self.config, self.task
        _seed_all(cfg.seed)
        model = self.model = task.build_model()
        if cfg.init and not resume:
            state, init_manifest = load_weights(cfg.init, task=task.name)
            model.load_state_dict(state)
            if d.main:
                log.info("starting from %s (epoch %s of %s)", cfg.init, init_manifest.get("epoch"),
                         init_manifest.get("name"))
        model.to(d.device)
        train_ds, val_ds = task.datasets()
        steps = self.steps_per_epoch(len(train_ds), d.world)
        if steps < 1:
            raise TrainingError(f"{len(train_ds)} training samples make no batch of {cfg.batch_size} "
                                f"on {d.world} process(es)")
        total = steps * cfg.epochs
        optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
        warmup = int(round(cfg.warmup_epochs * steps))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, total, warmup, cfg.final_lr_ratio))

        epoch, step_in_epoch, history, best, best_epoch, sums = 0, 0, [], None, None, {}
        last = self.out / "last.pt"
        if resume:
            state = load_checkpoint(last)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            epoch, step_in_epoch = state["epoch"], state["step_in_epoch"]
            history, best, best_epoch = state["history"], state["best"], state["best_epoch"]
            sums = state["sums"]
            set_rng_state(state["rng"])
            if d.main:
                log.info("resuming %s at epoch %d, step %d", last, epoch, step_in_epoch)
        net: nn.Module = model
        if d.distributed:
            net = nn.parallel.DistributedDataParallel(
                model, device_ids=[d.device.index] if d.device.type == "cuda" else None,
                find_unused_parameters=getattr(task, "find_unused_parameters", False))
        if d.main:
            self.out.mkdir(parents=True, exist_ok=True)

        def checkpoint(ep: int, step: int) -> None:
            if d.main:
                save_checkpoint({
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": ep, "step_in_epoch": step,
                    "history": history, "best": best, "best_epoch": best_epoch, "sums": sums,
                    "rng": rng_state(), "train_config": cfg.to_dict(), "task": task.name,
                    "manifest": task.manifest(),
                }, last)

        while epoch < cfg.epochs:
            _set_epoch(train_ds, epoch)
            sampler = self._sampler(train_ds, d)
            sampler.set_epoch(epoch)
            loader = self._loader(train_ds, _Skip(sampler, step_in_epoch * cfg.batch_size), epoch)
            net.train()
            t0 = time.monotonic()
            bar = None
            if d.main and self.progress:
                from tqdm import tqdm

                bar = tqdm(total=steps, initial=step_in_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                           unit="step", leave=False)
            for batch in loader:
                if step_in_epoch >= steps:
                    break
                batch = task.to_device(batch, d.device)
                loss, parts = task.loss(net, batch)
                if not torch.isfinite(loss):
                    raise TrainingError(f"non-finite loss {loss.item()} at epoch {epoch}, "
                                        f"step {step_in_epoch}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                for k, v in {"loss": float(loss.detach()), **parts}.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                step_in_epoch += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{sums['loss'] / step_in_epoch:.4f}")
                every = cfg.checkpoint_every
                if every and step_in_epoch % every == 0 and step_in_epoch < steps:
                    checkpoint(epoch, step_in_epoch)
            if bar is not None:
                bar.close()
            names = sorted(sums)
            means = all_reduce_mean(torch.tensor([sums[k] / steps for k in names], dtype=torch.float64), d)
            row: dict[str, Any] = {"epoch": epoch + 1, "lr": scheduler.get_last_lr()[0],
                                   "seconds": round(time.monotonic() - t0, 2)}
            row.update({f"train_{k}": float(v) for k, v in zip(names, means, strict=True)})
            metrics = self._evaluate(model, val_ds, d) if d.main else None
            metrics = broadcast_object(metrics, d)
            row.update({f"val_{k}": v for k, v in metrics.items() if isinstance(v, int | float)})
            history.append(row)
            value = float(metrics.get(task.metric, math.nan))
            improved = self._better(value, best)
            if improved:
                best, best_epoch = value, epoch + 1
            epoch, step_in_epoch, sums = epoch + 1, 0, {}
            if d.main:
                log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4g}" for k, v in row.items()
                                                          if isinstance(v, float)))
                write_csv(history, self.out / "log.csv")
                plot_curves(history, self.out / "curves.png", task.metric)
                if improved:
                    save_checkpoint({"model": model.state_dict(), "epoch": epoch, "metrics": metrics},
                                    self.out / "best.pt")
                    self.export(model, metrics, epoch)
            checkpoint(epoch, 0)
            barrier(d)
        return {"best": best, "best_epoch": best_epoch, "epochs": epoch, "out": str(self.out),
                "weights": str(self.out / f"{self.name}.pt"), "history": history}

    def _evaluate(self, model: nn.Module, ds: Dataset, d: Dist) -> dict[str, Any]:
        return evaluate(self.task, model, ds, d.device, self.config.batch_size, self.config.workers)

    def export(self, model: nn.Module, metrics: dict[str, Any], epoch: int) -> Path:
        """Save ``model`` as ``<out>/<name>.pt`` with the task's manifest, the run and its metrics."""
        manifest = dict(self.task.manifest())
        manifest.update({
            "task": self.task.name,
            "name": self.name,
            "metrics": {"val": jsonable(metrics)},
            "epoch": epoch,
            "train": {k: v for k, v in self.config.to_dict().items() if k != "out"},
            "command": self.command,
            "data": self.data or manifest.get("data", ""),
            "versions": _versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        })
        return save_weights(model.state_dict(), manifest, self.out / f"{self.name}.pt")


def evaluate(task: TrainTask, model: nn.Module, ds: Dataset, device: torch.device, batch_size: int = 8,
             workers: int = 0) -> dict[str, Any]:
    """``task.evaluate`` over ``ds`` in order, in eval mode without gradients."""
    _set_epoch(ds, 0)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=task.collate,
                        num_workers=workers)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return task.evaluate(model, loader, device)
    finally:
        model.train(was_training)


def jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with numpy scalars as Python numbers and anything not JSON-able left out."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out[k] = jsonable(v)
        elif isinstance(v, int | float | str | bool) or v is None:
            out[k] = v
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif isinstance(v, list | tuple):
            out[k] = list(v)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("spikesight", "torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
