"""SpikeYOLO detection as a :class:`~spikesight.perception.training.task.TrainTask` for the shared trainer.

Data: a Gen1-layout folder with ``train/`` and ``val/`` (and ``test/``) subfolders
(:class:`~spikesight.perception.data.gen1.Gen1Detection`); a sample is the window of events before
a label time, fitted to the model input by :class:`~.inputs.DetectionInput`. Training mirrors
samples left-right at random (``flip``) and can repeat the label times of rare classes
(``repeat_threshold``: repeat-factor sampling, see :mod:`~spikesight.perception.data.gen1`);
validation and test use the Gen1 evaluation protocol (boxes filtered, the first 0.5 s skipped).
Loss: YOLOv8's (:mod:`.loss`). Metric: COCO mAP@50:95 on the boxes mapped back to sensor pixels
(:mod:`.metrics`), with mAP@50 and each class's AP@50.

The manifest holds what :class:`~.pipeline.DetectionPipeline` needs to rebuild everything:
``config`` (:class:`~.config.DetectorConfig`), ``classes``, ``input`` (:class:`~.inputs.DetectionInput`),
``conf`` / ``iou`` (display thresholds), and the evaluation settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from spikesight.io.bbox import EVAL_SKIP_TS, GEN1_FILTER

from ..data.gen1 import Gen1Detection
from ..snn.base import reset_net
from .config import SCALES, STRIDES, DetectorConfig
from .inputs import REPRESENTATIONS, DetectionInput
from .loss import DetectionLoss
from .metrics import coco_map
from .model import SpikeYOLO
from .operating_point import OperatingCurve, operating_curve
from .postprocess import postprocess

CLASSES = ("car", "pedestrian")
SENSOR = (304, 240)  # Gen1's ATIS
DEFAULTS = {"scale": "tiny", "representation": "spikeyolo", "steps": 4, "window_ms": 250.0,
            "input_scale": 0.5}
"""Training defaults (see the issue's measurements: half-size input keeps a CPU epoch short)."""
EVAL_CONF = 0.001
EVAL_MAX_DETECTIONS = 100
CONF = 0.25
IOU = 0.7

Batch = tuple[torch.Tensor, torch.Tensor]


class DetectionTask:
    """Train and evaluate SpikeYOLO on a Gen1-layout dataset (see the module docstring)."""

    name = "detect"
    metric = "map50_95"
    metric_mode = "max"

    def __init__(
        self,
        data: str | Path,
        config: DetectorConfig | None = None,
        inputs: DetectionInput | None = None,
        *,
        classes: tuple[str, ...] = CLASSES,
        flip: bool = True,
        seed: int = 0,
        val_split: str = "val",
        conf: float = CONF,
        iou: float = IOU,
        eval_conf: float = EVAL_CONF,
        keep_empty: bool = False,
        repeat_threshold: float | None = None,
    ) -> None:
        self.data = Path(data)
        self.inputs = inputs or DetectionInput.for_sensor(
            *SENSOR, DEFAULTS["input_scale"], DEFAULTS["representation"], DEFAULTS["steps"],
            round(DEFAULTS["window_ms"] * 1000))
        self.classes = tuple(classes)
        self.config = config or DetectorConfig(DEFAULTS["scale"], len(self.classes), self.inputs.channels)
        if self.config.num_classes != len(self.classes):
            raise ValueError(f"{len(self.classes)} class names, {self.config.num_classes} model classes")
        if self.config.in_channels != self.inputs.channels:
            raise ValueError(f"the {self.inputs.representation!r} input has {self.inputs.channels} channels; "
                             f"the model takes {self.config.in_channels}")
        self.flip = flip
        self.seed = seed
        self.val_split = val_split
        self.conf, self.iou, self.eval_conf = conf, iou, eval_conf
        self.keep_empty = keep_empty
        self.repeat_threshold = repeat_threshold
        self._eval_ds: Gen1Detection | None = None
        self._loss = DetectionLoss(self.config.num_classes, STRIDES, self.config.reg_max)

    @property
    def default_name(self) -> str:
        """The exported weights' name: ``detect_<scale>``."""
        return f"detect_{self.config.scale}"

    # -- the TrainTask protocol ------------------------------------------------------------

    def build_model(self) -> SpikeYOLO:
        return SpikeYOLO(self.config)

    def datasets(self) -> tuple[Gen1Detection, Gen1Detection]:
        train = Gen1Detection(self.data, self.inputs, "train", flip=self.flip, seed=self.seed,
                              repeat_threshold=self.repeat_threshold, num_classes=self.config.num_classes,
                              keep_empty=self.keep_empty)
        return train, self._eval_dataset()

    def _eval_dataset(self) -> Gen1Detection:
        """The evaluated split (Gen1 protocol), made once: evaluation and the report share it."""
        if self._eval_ds is None:
            self._eval_ds = Gen1Detection(self.data, self.inputs, self.val_split, skip_ts=EVAL_SKIP_TS,
                                          num_classes=self.config.num_classes, keep_empty=self.keep_empty)
        return self._eval_ds

    def collate(self, batch: list[tuple[torch.Tensor, torch.Tensor]]) -> Batch:
        """Inputs stacked to ``[T, B, C, H, W]``; targets ``[M, 6]``: batch index, class, x0, y0, x1, y1."""
        x = torch.stack([b[0] for b in batch], 1)
        targets = [torch.cat((torch.full((len(t), 1), float(i)), t), 1) for i, (_, t) in enumerate(batch)]
        return x, torch.cat(targets) if targets else torch.zeros(0, 6)

    def to_device(self, batch: Batch, device: torch.device) -> Batch:
        return batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        reset_net(model)
        x, targets = batch
        return self._loss(model(x), targets)

    def _predict(self, model: nn.Module, batches: Iterable[Batch], device: torch.device) -> tuple[list, list]:
        """Detections (at the evaluation threshold) and ground truths per sample, in sensor pixels."""
        preds, truths = [], []
        for x, targets in batches:
            reset_net(model)
            outputs = model(x.to(device))
            preds += postprocess(outputs, STRIDES, self.config.reg_max, self.eval_conf, self.iou,
                                 EVAL_MAX_DETECTIONS, resize=self.inputs.resize)
            targets = targets.cpu().numpy()
            for i in range(x.shape[1]):
                rows = targets[targets[:, 0] == i]
                truths.append((np.asarray(self.inputs.boxes_to_sensor(rows[:, 2:6])), rows[:, 1].astype(int)))
        return preds, truths

    def evaluate(self, model: nn.Module, batches: Iterable[Batch], device: torch.device) -> dict[str, float]:
        """COCO mAP@50:95, mAP@50 and per-class AP@50 on sensor-pixel boxes over all ``batches``."""
        preds, truths = self._predict(model, batches, device)
        m = coco_map(preds, truths, self.config.num_classes)
        out = {"map50_95": m.map50_95, "map50": m.map50}
        out.update({f"ap50_{c}": v for c, v in zip(self.classes, m.ap50, strict=True)})
        return out

    def report(self, model: nn.Module, device: torch.device, out_dir: Path | None) -> dict[str, Any]:
        """The F1-confidence curve on the evaluated split (:mod:`.operating_point`): the display
        threshold that maximises mean F1 over the classes, with each class's precision and recall
        there; with ``out_dir``, a plot of F1 against the threshold per class."""
        loader = DataLoader(self._eval_dataset(), batch_size=8, shuffle=False, collate_fn=self.collate)
        model.eval()
        with torch.no_grad():
            preds, truths = self._predict(model, loader, device)
        curve = operating_curve(preds, truths, self.config.num_classes)
        out = {"split": self.val_split, "operating_point": curve.as_dict(self.classes)}
        if out_dir is not None:
            out["picture"] = str(_plot_f1(curve, self.classes, Path(out_dir) / "f1_confidence.png"))
        return out

    def manifest(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "classes": list(self.classes),
            "input": self.inputs.to_dict(),
            "representation": self.inputs.representation,
            "conf": self.conf,
            "iou": self.iou,
            "evaluation": {
                "conf": self.eval_conf,
                "iou": self.iou,
                "max_detections": EVAL_MAX_DETECTIONS,
                "box_filter": dict(GEN1_FILTER),
                "skip_ts": EVAL_SKIP_TS,
                "keep_empty": self.keep_empty,
            },
            "augmentation": {"flip": self.flip, "repeat_threshold": self.repeat_threshold},
            "seed": self.seed,
            "data": str(self.data),
        }

    # -- command line and manifest ---------------------------------------------------------

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        d = DEFAULTS
        parser.add_argument("--config", default=d["scale"], choices=sorted(SCALES),
                            help=f"model scale (default {d['scale']})")
        parser.add_argument("--representation", default=d["representation"], choices=REPRESENTATIONS,
                            help=f"input representation (default {d['representation']})")
        parser.add_argument("--T", type=int, default=d["steps"], help=f"time steps (default {d['steps']})")
        parser.add_argument("--window-ms", type=float, default=d["window_ms"],
                            help=f"events before each label, ms (default {d['window_ms']:g})")
        parser.add_argument("--input-scale", type=float, default=d["input_scale"],
                            help="model input size relative to the sensor, sides rounded up to multiples "
                                 f"of 32 (default {d['input_scale']:g}; 1: the sensor padded)")
        parser.add_argument("--sensor", type=int, nargs=2, default=list(SENSOR), metavar=("W", "H"),
                            help="sensor size (default Gen1's 304 240)")
        parser.add_argument("--no-flip", action="store_true", help="no left-right flip augmentation")
        parser.add_argument("--repeat-threshold", type=float, default=None, metavar="F",
                            help="repeat-factor sampling: label times showing a class seen in a fraction "
                                 "f < F of them are repeated round(sqrt(F / f)) times an epoch (LVIS's RFS)")
        parser.add_argument("--keep-empty", action="store_true",
                            help="also train and evaluate on label times without boxes")
        parser.add_argument("--val-split", default="val", help="validation split (default val)")
        parser.add_argument("--conf", type=float, default=CONF, help="display confidence threshold for the "
                                                                     f"shipped manifest (default {CONF})")
        parser.add_argument("--iou", type=float, default=IOU, help=f"NMS IoU threshold (default {IOU})")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DetectionTask:
        inputs = DetectionInput.for_sensor(*args.sensor, args.input_scale, args.representation, args.T,
                                           round(args.window_ms * 1000))
        config = DetectorConfig(args.config, len(CLASSES), inputs.channels)
        return cls(args.data, config, inputs, flip=not args.no_flip, seed=getattr(args, "seed", 0),
                   val_split=args.val_split, conf=args.conf, iou=args.iou, keep_empty=args.keep_empty,
                   repeat_threshold=args.repeat_threshold)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], data: Path, split: str) -> DetectionTask:
        evaluation = manifest.get("evaluation", {})
        return cls(
            data,
            DetectorConfig(**manifest["config"]),
            DetectionInput.from_dict(manifest["input"]),
            classes=tuple(manifest["classes"]),
            flip=False,
            seed=manifest.get("seed", 0),
            val_split=split,
            conf=manifest.get("conf", CONF),
            iou=manifest.get("iou", IOU),
            eval_conf=evaluation.get("conf", EVAL_CONF),
            keep_empty=evaluation.get("keep_empty", False),
        )


def _plot_f1(curve: OperatingCurve, classes: tuple[str, ...], path: Path) -> Path:
    """F1 against the confidence threshold, per class and averaged, with the chosen threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for c, name in enumerate(classes):
        ax.plot(curve.thresholds, curve.f1[:, c], label=f"{name} ({curve.ground_truth[c]} boxes)")
    ax.plot(curve.thresholds, curve.mean_f1, "k--", label="mean over classes")
    ax.axvline(curve.best(), color="grey", lw=0.8)
    ax.set(xlabel="confidence threshold", ylabel="F1 at IoU 0.5", ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
