"""Monocular depth as a :class:`~spikesight.perception.training.task.TrainTask`: MVSEC-layout data,
the spiking U-Net (or its ANN twin), the depth loss, and the MVSEC metrics.

``spikesight train depth --data DIR [--config tiny] [--representation multistep|voxel] [--T 5]``
trains on ``DIR``'s train split (``train/`` folder, or MVSEC's ``outdoor_day2``) and picks the best
epoch by ``mae_30`` (mean absolute depth error in metres over ground truth up to 30 m) on its val
split; ``spikesight eval depth --data DIR --weights W [--split test] [--report OUT]`` rebuilds the
task from the weights' manifest. See :mod:`spikesight.perception.data.mvsec` for the data.

Loss: :class:`~.loss.DepthLoss` (scale-invariant + multi-scale gradient matching, ``grad_weight``
0.5), on normalised log depth at the sensor's geometry (the network's output is cropped and
upsampled back by :meth:`~.inputs.DepthInput.to_sensor`), plus ``abs_weight`` times the mean
absolute log-depth error (0 by default). Both DepthLoss terms are blind to a constant offset in log
depth, i.e. to the global scale of the depth, so only ``abs_weight > 0`` ties the prediction to
metres directly; without it the scale is learnt only through the sigmoid's range.

Evaluation modes (every figure says which): ``evaluate`` and the training metric are **per-window**
(every window starts from reset membranes, as in training); :meth:`DepthTask.report` adds the
**streaming** mode (membranes carried from window to window in time order through each recording,
reset at its start), the energy estimate, and a picture of predicted against true depth.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.mvsec import DepthRecording, MvsecDepth, mvsec_depth, split_recordings
from ..snn import SpikeMonitor, reset_net
from .config import DEPTH_CONFIGS, READOUTS, DepthConfig
from .convert import log_to_depth
from .inputs import REPRESENTATIONS, DepthInput
from .loss import DepthLoss
from .metrics import DepthMetrics
from .model import build_depth_model

log = logging.getLogger(__name__)

PICTURE = "depth_examples.png"


class DepthTask:
    """Train/evaluate a depth network on a folder of MVSEC-layout recordings (see the module docstring).

    ``window_us``: ``None`` makes each sample from the events between consecutive depth maps
    (E2Depth), a number from that many µs before each map. ``crop``: ``(w, h)`` random training
    crops (centre crops for evaluation); ``augment``: horizontal flips (and random crops) in
    training. ``train_split=None`` (a task rebuilt to evaluate weights) needs no training data:
    :meth:`datasets` then returns the evaluated split twice.
    """

    name = "depth"
    metric = "mae_30"
    metric_mode = "min"

    def __init__(
        self,
        data: str | Path,
        config: DepthConfig,
        representation: DepthInput,
        *,
        window_us: int | None = None,
        grad_weight: float = 0.5,
        abs_weight: float = 0.0,
        augment: bool = True,
        crop: tuple[int, int] | None = None,
        seed: int = 0,
        train_split: str | None = "train",
        eval_split: str = "val",
    ) -> None:
        if (config.steps, config.in_channels) != (representation.steps, representation.channels):
            raise ValueError(f"the model takes T={config.steps}, C={config.in_channels} but the input gives "
                             f"T={representation.steps}, C={representation.channels}")
        if abs_weight < 0:
            raise ValueError(f"abs_weight must be >= 0, got {abs_weight}")
        self.data = Path(data)
        self.config = config
        self.representation = representation
        self.window_us = window_us
        self.criterion = DepthLoss(grad_weight)
        self.abs_weight = float(abs_weight)
        self.augment = augment
        self.crop = crop
        self.seed = seed
        self.train_split = train_split
        self.eval_split = eval_split
        self._eval_ds: MvsecDepth | None = None

    @property
    def default_name(self) -> str:
        return f"depth_{self.config.name}" + ("_ann" if self.config.ann else "")

    # -- TrainTask ---------------------------------------------------------------------------

    def build_model(self) -> nn.Module:
        return build_depth_model(self.config)

    def _dataset(self, split: str, train: bool) -> MvsecDepth:
        return mvsec_depth(self.data, split, self.representation, window_us=self.window_us,
                           max_depth=self.config.max_depth, alpha=self.config.alpha,
                           augment=train and self.augment, crop=self.crop if train else None, seed=self.seed)

    def _fit_sensor(self) -> None:
        """Build the input for the data's sensor (the depth maps' size), whatever the default or the
        manifest said: the network is convolutional."""
        rec = DepthRecording(split_recordings(self.data, self.eval_split)[0])
        size = (rec.width, rec.height)
        rec.close()
        if size != (self.representation.width, self.representation.height):
            log.info("the data's sensor is %dx%d: the input is built for it", *size)
            self.representation = self.representation.with_sensor(*size)

    def datasets(self) -> tuple[Dataset, Dataset]:
        self._fit_sensor()
        self._eval_ds = self._dataset(self.eval_split, False)
        if self.train_split is None:
            return self._eval_ds, self._eval_ds
        train = self._dataset(self.train_split, True)
        self._match_window(train)
        return train, self._eval_ds

    def _match_window(self, ds: MvsecDepth) -> None:
        """With samples between consecutive maps, give the pipeline (``representation.window_us``, in the
        manifest) the data's median map period, so it slices a stream as the network was trained."""
        if self.window_us is not None:
            return
        periods = np.concatenate([np.diff(rec.depth_ts) for rec in ds.recordings if len(rec.depth_ts) > 1])
        if not len(periods):
            return
        period = int(np.median(periods))
        if period > 0 and period != self.representation.window_us:
            log.info("depth maps come every %d us: the pipeline window is set to that (was %d us)",
                     period, self.representation.window_us)
            self.representation = replace(self.representation, window_us=period)

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {
            "input": torch.stack([b["input"] for b in batch], dim=1),  # [T, B, C, H, W]
            "depth": torch.stack([b["depth"] for b in batch]),
            "target": torch.stack([b["target"] for b in batch]),
            "mask": torch.stack([b["mask"] for b in batch]),
            "t": torch.tensor([b["t"] for b in batch], dtype=torch.int64),
            "recording": torch.tensor([b["recording"] for b in batch], dtype=torch.int64),
            "map": torch.tensor([b["map"] for b in batch], dtype=torch.int64),
        }

    def to_device(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

    def predict(self, model: nn.Module, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The network's normalised log depth for input ``x`` at a ``width x height`` sensor (or crop),
        ``[B, 1, height, width]``; does not reset the state."""
        return self.representation.with_sensor(width, height).to_sensor(model(x))

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        reset_net(model)
        target, mask = batch["target"], batch["mask"]
        pred = self.predict(model, batch["input"], *target.shape[-2:])
        loss, parts = self.criterion(pred, target, mask)
        if self.abs_weight:
            m = mask.to(pred.dtype)
            abs_term = ((pred - target).abs() * m).sum() / m.sum().clamp(min=1.0)
            loss = loss + self.abs_weight * abs_term
            parts = {**parts, "abs": float(abs_term.detach()), "loss": float(loss.detach())}
        return loss, parts

    def _metric_depth(self, log_depth: torch.Tensor) -> torch.Tensor:
        return log_to_depth(log_depth.float(), self.config.max_depth, self.config.alpha)

    def _metrics(self) -> DepthMetrics:
        return DepthMetrics(self.config.min_depth, self.config.max_depth)

    def evaluate(self, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]],
                 device: torch.device) -> dict[str, float]:
        """Per-window metrics (membranes reset before every batch of independent windows) and the loss."""
        metrics = self._metrics()
        losses = []
        for batch in batches:
            batch = self.to_device(batch, device)
            reset_net(model)
            target = batch["target"]
            pred = self.predict(model, batch["input"], *target.shape[-2:])
            losses.append(self.criterion(pred, target, batch["mask"])[1]["loss"])
            metrics.update(self._metric_depth(pred), batch["depth"])
        out = metrics.compute()
        out["loss"] = float(np.mean(losses)) if losses else math.nan
        return out

    def manifest(self) -> dict[str, Any]:
        rep = self.representation
        return {
            "config": self.config.to_dict(),
            "input": rep.to_dict(),
            "representation": rep.representation,
            "T": rep.steps,
            "max_depth": self.config.max_depth,
            "alpha": self.config.alpha,
            "min_depth": self.config.min_depth,
            "depth_encoding": "D_log = clip(1 + ln(D / max_depth) / alpha, 0, 1)",
            "sample_window_us": self.window_us,
            "sample_window": ("events between consecutive depth maps" if self.window_us is None
                              else f"{self.window_us} us before each depth map"),
            "loss": {"grad_weight": self.criterion.grad_weight, "scales": self.criterion.scales,
                     "abs_weight": self.abs_weight},
            "augment": {"hflip": self.augment, "crop": list(self.crop) if self.crop else None},
            "metric": self.metric,
            "eval_mode": "per-window (membranes reset before every window)",
            "data": str(self.data),
            "splits": {"train": self.train_split, "val": self.eval_split},
        }

    # -- CLI ------------------------------------------------------------------------------------

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("depth")
        g.add_argument("--config", default="tiny", choices=sorted(DEPTH_CONFIGS), help="network size")
        g.add_argument("--representation", default="multistep", choices=REPRESENTATIONS,
                       help="multistep: MSS-DepthNet's cumulative ON/OFF steps (reconstructed); "
                            "voxel: E2Depth's voxel grid at every step")
        g.add_argument("--T", type=int, default=None, help="time steps per window (default: the config's)")
        g.add_argument("--bins", type=int, default=5, help="voxel grid time bins (default 5)")
        g.add_argument("--window-ms", type=float, default=None,
                       help="events of this many ms before each map (default: those since the previous map)")
        g.add_argument("--downscale", type=int, default=1,
                       help="divide event coordinates by this (CPU speed)")
        g.add_argument("--crop", default=None, help="WxH random training crops (default: whole frames)")
        g.add_argument("--no-augment", action="store_true", help="no horizontal flips or random crops")
        g.add_argument("--ann", action="store_true", help="train the ANN twin (ReLU, no time steps)")
        g.add_argument("--no-attention", action="store_true", help="no multi-dimensional attention")
        g.add_argument("--readout", default=None, choices=READOUTS,
                       help="prediction readout (default: the config's; see DepthConfig)")
        g.add_argument("--grad-weight", type=float, default=0.5, help="weight of gradient matching (0.5)")
        g.add_argument("--abs-weight", type=float, default=0.0,
                       help="weight of a mean |log depth error| term that fixes the metric scale (0)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DepthTask:
        base = DEPTH_CONFIGS[args.config]
        steps = args.T if args.T is not None else base.steps
        window_us = None if args.window_ms is None else int(round(args.window_ms * 1000))
        rep = DepthInput(args.representation, steps=steps, bins=args.bins, downscale=args.downscale,
                         **({} if window_us is None else {"window_us": window_us}))
        config = replace(base, steps=steps, in_channels=rep.channels, ann=args.ann,
                         attention=base.attention and not args.no_attention,
                         readout=args.readout or base.readout)
        rep = replace(rep, multiple=config.multiple)  # the network's own padding, done once here
        crop = None
        if args.crop:
            w, _, h = str(args.crop).lower().partition("x")
            if not (w.isdigit() and h.isdigit()):
                raise ValueError(f"--crop must be WIDTHxHEIGHT, got {args.crop!r}")
            crop = (int(w), int(h))
        return cls(args.data, config, rep, window_us=window_us, grad_weight=args.grad_weight,
                   abs_weight=args.abs_weight, augment=not args.no_augment, crop=crop,
                   seed=getattr(args, "seed", 0))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], data: Path, split: str) -> DepthTask:
        config = DepthConfig.from_dict(manifest["config"])
        rep = DepthInput.from_dict(manifest["input"])
        loss = manifest.get("loss", {})
        crop = manifest.get("augment", {}).get("crop")
        return cls(data, config, rep, window_us=manifest.get("sample_window_us"),
                   grad_weight=loss.get("grad_weight", 0.5), abs_weight=loss.get("abs_weight", 0.0),
                   augment=False, crop=tuple(crop) if crop else None, train_split=None, eval_split=split)

    # -- the extra evaluation of `spikesight eval --report` ---------------------------------------

    def _eval_dataset(self) -> MvsecDepth:
        if self._eval_ds is None:
            self._fit_sensor()
            self._eval_ds = self._dataset(self.eval_split, False)
        return self._eval_ds

    def report(self, model: nn.Module, device: torch.device, out_dir: Path | None) -> dict[str, Any]:
        """Per-window vs streaming metrics on the evaluated split, the energy estimate, and (with
        ``out_dir``) a picture of predicted against true depth on a few of its windows."""
        ds = self._eval_dataset()
        model.eval()
        per_window, streaming = self._metrics(), self._metrics()
        with torch.no_grad():
            for i in range(len(ds)):
                reset_net(model)
                self._score(model, ds[i], device, per_window)
            if not self.config.ann:
                previous: tuple[int, int] | None = None
                for i in range(len(ds)):
                    r, k = ds.items[i]
                    if previous != (r, k - 1):  # a new recording, or a gap in its maps: start afresh
                        reset_net(model)
                    self._score(model, ds[i], device, streaming)
                    previous = (r, k)
        out: dict[str, Any] = {"split": self.eval_split, "windows": len(ds),
                               "per_window": per_window.compute()}
        if self.config.ann:
            out["streaming"] = out["per_window"]
            out["streaming_note"] = "the ANN twin has no state: streaming equals per-window"
        else:
            out["streaming"] = streaming.compute()
            out["streaming_note"] = ("membranes carried across the consecutive windows of each recording, "
                                     "reset at its start")
        picks = _spread(len(ds), 4)
        out["energy"] = self._energy(model, ds, picks, device)
        if out_dir is not None and picks:
            out["picture"] = str(self._picture(model, ds, picks, device, Path(out_dir) / PICTURE))
        return out

    def _score(self, model: nn.Module, item: dict[str, Any], device: torch.device,
               metrics: DepthMetrics) -> None:
        """Run one window through the network as it stands (no reset) and add it to ``metrics``."""
        h, w = item["depth"].shape[-2:]
        pred = self.predict(model, item["input"].unsqueeze(1).to(device), h, w)
        metrics.update(self._metric_depth(pred).cpu(), item["depth"])

    def _energy(self, model: nn.Module, ds: MvsecDepth, picks: list[int],
                device: torch.device) -> dict[str, Any]:
        """Mean energy estimate per window (per-window mode) over ``picks``, SNN against its ANN run."""
        if not picks:
            return {}
        snn, ann, rates = [], [], []
        with SpikeMonitor(model, window=1, rasters=False) as mon, torch.no_grad():
            for i in picks:
                reset_net(model)
                model(ds[i]["input"].unsqueeze(1).to(device))
                rec = mon.last
                snn.append(rec.energy.snn_energy_j)
                ann.append(rec.energy.ann_energy_j)
                if rec.spikes:
                    rates.append(float(np.mean(list(rec.firing_rates.values()))))
        e_snn, e_ann = float(np.mean(snn)), float(np.mean(ann))
        return {"windows": len(picks), "snn_energy_j": e_snn, "ann_energy_j": e_ann,
                "ratio": e_ann / e_snn if e_snn else math.inf,
                "mean_firing_rate": float(np.mean(rates)) if rates else None,
                "note": "estimate from synaptic operations (45 nm figures), per window, per-window mode"}

    def _picture(self, model: nn.Module, ds: MvsecDepth, picks: list[int], device: torch.device,
                 path: Path) -> Path:
        """Rows of (events, true depth, predicted depth, |error|) for the windows ``picks``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        cfg = self.config
        norm = LogNorm(cfg.min_depth, cfg.max_depth)
        cmap = matplotlib.colormaps["turbo_r"].with_extremes(bad="0.25")
        fig, axes = plt.subplots(len(picks), 4, figsize=(13, 2.6 * len(picks)), squeeze=False)
        with torch.no_grad():
            for row, i in zip(axes, picks, strict=True):
                item = ds[i]
                ev, t0, t1 = ds.window(i)
                gt = item["depth"][0].numpy()
                h, w = gt.shape
                reset_net(model)
                pred = self._metric_depth(self.predict(model, item["input"].unsqueeze(1).to(device), h, w))
                pred = pred[0, 0].cpu().numpy()
                counts = np.zeros((h, w), np.float32)
                np.add.at(counts, (ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1.0)
                row[0].imshow(counts, cmap="gray", vmax=max(1.0, float(np.percentile(counts, 99))))
                row[0].set_title(f"events, {len(ev)} in {(t1 - t0) / 1000:.0f} ms", fontsize=9)
                gm = row[1].imshow(np.ma.masked_invalid(gt), cmap=cmap, norm=norm)
                row[1].set_title("true depth (grey: none)", fontsize=9)
                im = row[2].imshow(pred, cmap=cmap, norm=norm)
                row[2].set_title("predicted (per-window)", fontsize=9)
                err = np.where(np.isfinite(gt), np.abs(pred - gt), np.nan)
                em = row[3].imshow(np.ma.masked_invalid(err), cmap="magma", vmin=0, vmax=10)
                row[3].set_title("|error| (m)", fontsize=9)
                r, k = ds.items[i]
                row[0].set_ylabel(f"{ds.recordings[r].recording.name}\nmap {k}", fontsize=8)
                for ax in row:
                    ax.set_xticks([])
                    ax.set_yticks([])
                fig.colorbar(gm, ax=row[1], fraction=0.035, label="m")
                fig.colorbar(im, ax=row[2], fraction=0.035, label="m")
                fig.colorbar(em, ax=row[3], fraction=0.035, label="m")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def _spread(n: int, k: int) -> list[int]:
    """Up to ``k`` indices spread evenly over ``range(n)``."""
    if n <= 0:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(k, n))})
