"""The gesture task for the shared trainer: TA-SNN on DVS128 Gesture (or the simulator's copy of it).

Training takes one random window of ``T x dt`` inside each labelled segment per epoch (TA-SNN's
random consecutive slice); the loss is the paper's MSE between the output firing rate and the
one-hot label (``loss="mse"``) or the cross-entropy of ``logit_scale * rate`` (``loss="ce"``).

Evaluation cuts every segment of the validation split into ``clips`` windows spread evenly over it
and scores a segment by the **mean class probability over its windows** (top-1 per segment; the
majority vote of the windows, the paper code's rule, is reported beside it as ``accuracy_vote``).
Class probabilities are ``softmax(logit_scale * rate)``: all rates zero give the uniform
distribution (no evidence, no confident decision).

Frame dropping (the paper's IAP) is measured two ways. ``accuracy_dropped`` keeps, in every
window, the ``1 - drop_fraction`` frames with the highest input-attention scores (dropped frames
are not computed); ``drop_threshold`` is the score under which
``drop_fraction`` of all validation frames fall, the threshold ``d_th`` that drops that fraction
on this data. The trainer stores these metrics with the weights, and the streaming pipeline uses
that threshold unless told otherwise. :meth:`GestureTask.report` draws the full curves
(attention-based against random dropping, as the paper compares them), the confusion matrix, and
accuracy against the time since the gesture started.

A kept frame passes weighted by its attention score, as in training (``kept_weight="soft"``), not
with weight 1 as the paper's IAP binarises it (``"one"``, also drawn in the report): the scores
this network learns on the simulated data sit near 0.5, so weight 1 doubles the input of every
kept frame and costs accuracy even when nothing is dropped (measured: 82 % per segment with the
soft weights against 71 % with weight 1 on the simulated test split, small config).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.dvs_gesture import GESTURE_NAMES, SENSOR_SIZE, DVSGesture
from .model import CONFIGS, GestureNet, GestureNetConfig

log = logging.getLogger(__name__)

LOSSES = ("mse", "ce")
#: how a kept frame is weighted when frames are dropped: its attention score, or 1 (the paper's IAP)
KEPT_WEIGHTS = ("soft", "one")
#: DVS128 Gesture class ids (1-11) of the model outputs 0-10
CLASS_IDS = tuple(range(1, len(GESTURE_NAMES) + 1))
#: the fractions of frames dropped in the report's curves
DROP_FRACTIONS = tuple(round(0.1 * k, 1) for k in range(10))


def rates_to_probabilities(rates: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """Class probabilities ``softmax(logit_scale * rate)`` of output firing rates ``[..., K]``."""
    return torch.softmax(rates * logit_scale, dim=-1)


def keep_top(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """Bool ``[T, B]``: per window, the ``T - round(fraction * T)`` highest-scoring frames (ties: earlier)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"a drop fraction must be in [0, 1], got {fraction}")
    t = scores.shape[0]
    n_keep = t - round(fraction * t)
    order = torch.argsort(scores, dim=0, descending=True, stable=True)
    keep = torch.zeros_like(scores, dtype=torch.bool)
    keep.scatter_(0, order[:n_keep], True)
    return keep


def keep_random(shape: tuple[int, int], fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Bool ``[T, B]``: per window, ``T - round(fraction * T)`` frames drawn at random (the paper's IRP)."""
    scores = torch.rand(shape, generator=generator)
    return keep_top(scores, fraction)


def threshold_for_fraction(scores: np.ndarray, fraction: float) -> float:
    """The score ``d_th`` under which ``fraction`` of ``scores`` lie (frames with ``score >= d_th`` kept)."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if not len(s):
        return math.nan
    k = min(int(round(fraction * len(s))), len(s) - 1)
    return float(s[k])


def rates_with_dropping(
    net: GestureNet,
    x: torch.Tensor,
    keep: torch.Tensor,
    scores: torch.Tensor | None,
    kept_weight: str = "soft",
) -> torch.Tensor:
    """Rates of ``net`` on frames ``x`` ``[T, B, ...]`` computing only the ``keep`` frames (bool
    ``[T, B]``; the others cost nothing). A kept frame is weighted by its input-attention score
    ``scores`` as in training (``"soft"``), or passes with weight 1 (``"one"``, the paper's IAP)."""
    if kept_weight not in KEPT_WEIGHTS:
        raise ValueError(f"kept_weight must be one of {KEPT_WEIGHTS}, got {kept_weight!r}")
    if scores is not None and kept_weight == "soft":
        x = x * scores.view(*scores.shape, *([1] * (x.dim() - 2)))
    return net(x, keep=keep)


def _unwrap(model: nn.Module) -> GestureNet:
    net = getattr(model, "module", model)  # DistributedDataParallel
    if not isinstance(net, GestureNet):
        raise TypeError(f"the gesture task needs a GestureNet, got {type(net).__name__}")
    return net


class _WithSegment(Dataset):
    """A :class:`DVSGesture` whose items also say which segment they come from (for per-segment scores)."""

    def __init__(self, ds: DVSGesture) -> None:
        self.ds = ds

    def set_epoch(self, epoch: int) -> None:
        self.ds.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        x, y = self.ds[i]
        return x, y, self.ds.items[i][0]


def segment_scores(
    probs: np.ndarray, segments: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment (sorted ids): the mean probability over its windows ``[S, K]``, the majority class
    of its windows' top-1 (ties: the class of highest mean probability), and its label."""
    ids = np.unique(segments)
    mean = np.zeros((len(ids), probs.shape[1]))
    vote = np.zeros(len(ids), dtype=np.int64)
    label = np.zeros(len(ids), dtype=np.int64)
    for j, s in enumerate(ids):
        rows = segments == s
        mean[j] = probs[rows].mean(0)
        counts = np.bincount(probs[rows].argmax(1), minlength=probs.shape[1])
        best = np.flatnonzero(counts == counts.max())
        vote[j] = best[np.argmax(mean[j][best])]
        label[j] = labels[rows][0]
    return mean, vote, label


class GestureTask:
    """TA-SNN gesture recognition as a :class:`~spikesight.perception.training.task.TrainTask`.

    ``data``: a DVS128 Gesture folder (``trials_to_train.txt`` and the validation split's list);
    ``config``: a name of :data:`~.model.CONFIGS` or a :class:`GestureNetConfig`; ``T``, ``dt_us``,
    ``attention`` override the config's. ``val_split`` falls back to ``"test"`` when the folder has
    no ``trials_to_val.txt`` (the real dataset has train and test only).
    """

    name = "gesture"
    metric = "accuracy"
    metric_mode = "max"

    def __init__(
        self,
        data: str | Path,
        config: str | GestureNetConfig = "small",
        *,
        T: int | None = None,
        dt_us: int | None = None,
        attention: str | None = None,
        loss: str = "mse",
        logit_scale: float = 10.0,
        binary: bool = False,
        clips: int = 10,
        val_split: str = "val",
        drop_fraction: float = 0.5,
        drop_threshold: float | None = None,
        seed: int = 0,
        cache_dir: str | Path | None = None,
    ) -> None:
        if isinstance(config, str):
            if config not in CONFIGS:
                raise ValueError(f"unknown gesture config {config!r}; choose one of {', '.join(CONFIGS)}")
            self.config_name, cfg = config, CONFIGS[config]
        else:
            self.config_name, cfg = "custom", config
        changes: dict[str, Any] = {"d_th": None}
        if T is not None:
            changes["T"] = T
        if dt_us is not None:
            changes["dt_us"] = int(dt_us)
        if attention is not None:
            changes["attention"] = attention
            changes["input_attention"] = attention.lower() != "none" or cfg.input_attention
        self.config: GestureNetConfig = replace(cfg, **changes)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if not 0.0 <= drop_fraction < 1.0:
            raise ValueError(f"drop_fraction must be in [0, 1), got {drop_fraction}")
        if drop_threshold is not None and not 0.0 <= drop_threshold <= 1.0:
            raise ValueError(f"drop_threshold must be in [0, 1], got {drop_threshold}")
        if clips < 1 or logit_scale <= 0:
            raise ValueError(f"clips and logit_scale must be positive, got {clips}, {logit_scale}")
        self.data = Path(data)
        self.loss_name = loss
        self.logit_scale = float(logit_scale)
        self.binary = binary
        self.clips = clips
        self.drop_fraction = float(drop_fraction)
        self.drop_threshold = drop_threshold
        self.seed = seed
        self.cache_dir = cache_dir
        self.val_split = val_split
        if val_split == "val" and not (self.data / "trials_to_val.txt").exists():
            log.warning("%s has no trials_to_val.txt: validating on the test split", self.data)
            self.val_split = "test"
        self._sets: tuple[Dataset, Dataset] | None = None
        #: the frame-dropping threshold of the weights being evaluated (set by :meth:`from_manifest`)
        self.shipped_threshold: float | None = None

    @property
    def default_name(self) -> str:
        """The exported weights' name: ``gesture_<config>``."""
        return f"gesture_{self.config_name}"

    # -- the TrainTask protocol ------------------------------------------------------------------

    def build_model(self) -> GestureNet:
        return GestureNet(self.config)

    def _dataset(self, split: str, window: str) -> DVSGesture:
        c = self.config
        return DVSGesture(
            self.data,
            split,
            T=c.T,
            dt_us=c.dt_us,
            size=c.size,
            window=window,  # type: ignore[arg-type]
            clips=self.clips,
            binary=self.binary,
            seed=self.seed,
            cache_dir=self.cache_dir,
        )

    def datasets(self) -> tuple[Dataset, Dataset]:
        if self._sets is None:
            self._sets = (
                _WithSegment(self._dataset("train", "random")),
                _WithSegment(self._dataset(self.val_split, "clips")),
            )
        return self._sets

    def collate(self, batch: list[tuple[torch.Tensor, int, int]]) -> dict[str, torch.Tensor]:
        frames, labels, segments = zip(*batch, strict=True)
        return {
            "frames": torch.stack(frames),
            "label": torch.tensor(labels, dtype=torch.long),
            "segment": torch.tensor(segments, dtype=torch.long),
        }

    def to_device(self, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        return {k: v.to(device) for k, v in batch.items()}

    def _loss(self, rates: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "mse":
            return F.mse_loss(rates, F.one_hot(labels, rates.shape[1]).to(rates.dtype))
        return F.cross_entropy(rates * self.logit_scale, labels)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        rates = model(batch["frames"].transpose(0, 1))  # GestureNet resets its state per window
        loss = self._loss(rates, batch["label"])
        accuracy = (rates.detach().argmax(1) == batch["label"]).float().mean()
        return loss, {"accuracy": float(accuracy)}

    def probabilities(self, rates: torch.Tensor) -> torch.Tensor:
        return rates_to_probabilities(rates, self.logit_scale)

    def evaluate(self, model: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        net = _unwrap(model)
        probs, dropped, scores, labels, segments, losses = [], [], [], [], [], []
        for batch in batches:
            b = self.to_device(batch, device)
            x = b["frames"].transpose(0, 1)
            rates = net(x)
            losses.append(float(self._loss(rates, b["label"])) * len(b["label"]))
            probs.append(self.probabilities(rates).cpu())
            if net.gate is not None:
                s = net.frame_scores(x)
                scores.append(s.cpu())
                rates = rates_with_dropping(net, x, keep_top(s, self.drop_fraction), s)
                dropped.append(self.probabilities(rates).cpu())
            labels.append(b["label"].cpu())
            segments.append(b["segment"].cpu())
        if not probs:
            raise ValueError("the validation set is empty")
        p = torch.cat(probs).numpy()
        y = torch.cat(labels).numpy()
        seg = torch.cat(segments).numpy()
        mean, vote, seg_label = segment_scores(p, seg, y)
        metrics: dict[str, float] = {
            "accuracy": float((mean.argmax(1) == seg_label).mean()),
            "accuracy_vote": float((vote == seg_label).mean()),
            "accuracy_clip": float((p.argmax(1) == y).mean()),
            "loss": sum(losses) / len(y),
            "segments": len(seg_label),
            "windows": len(y),
        }
        if scores:
            pd = torch.cat(dropped).numpy()
            metrics["accuracy_dropped"] = float((segment_scores(pd, seg, y)[0].argmax(1) == seg_label).mean())
            metrics["drop_fraction"] = self.drop_fraction
            s = torch.cat(scores, dim=1).numpy()
            metrics["drop_threshold"] = threshold_for_fraction(s, self.drop_fraction)
            metrics["score_mean"] = float(s.mean())
        return metrics

    def manifest(self) -> dict[str, Any]:
        c = self.config
        return {
            "config_name": self.config_name,
            "config": c.to_dict(),
            "classes": [{"id": i, "name": n} for i, n in zip(CLASS_IDS, GESTURE_NAMES, strict=True)],
            "representation": {
                "kind": "frame_sequence",
                "mode": "binary" if self.binary else "count",
                "T": c.T,
                "dt_us": c.dt_us,
                "window_us": c.T * c.dt_us,
                "size": c.size,
                "sensor_size": SENSOR_SIZE,
                "pooling": f"sum of {SENSOR_SIZE // c.size}x{SENSOR_SIZE // c.size} sensor pixels "
                f"(x * {c.size} // {SENSOR_SIZE}, y likewise)",
                "channels": ["OFF", "ON"],
            },
            "T": c.T,
            "dt_us": c.dt_us,
            "sensor_size": SENSOR_SIZE,
            "drop_threshold": self.drop_threshold,
            "drop_fraction": self.drop_fraction,
            "loss": self.loss_name,
            "logit_scale": self.logit_scale,
            "decode": "probabilities = softmax(logit_scale * output firing rate)",
            "evaluation": {
                "clips": self.clips,
                "segment_score": "mean class probability over the clips of a segment",
                "val_split": self.val_split,
            },
            "seed": self.seed,
            "data": str(self.data),
        }

    # -- CLI -------------------------------------------------------------------------------------

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", default="small", choices=sorted(CONFIGS),
                            help="network (default small)")
        parser.add_argument("--T", type=int, default=None, help="frames per window (default: the config's)")
        parser.add_argument("--dt-ms", type=float, default=None,
                            help="frame length in ms (default: the config's)")
        parser.add_argument("--attention", default=None, help="none, TA, TCSA ... (default: the config's)")
        parser.add_argument("--loss", default="mse", choices=LOSSES, help="mse (the paper's) or ce")
        parser.add_argument("--logit-scale", type=float, default=10.0,
                            help="probabilities = softmax(scale * rate); the ce loss uses it too")
        parser.add_argument("--binary", action="store_true", help="binary frames instead of event counts")
        parser.add_argument("--clips", type=int, default=10, help="evaluation windows per segment")
        parser.add_argument("--val-split", default="val", help="validation split (default val, else test)")
        parser.add_argument("--drop-fraction", type=float, default=0.5,
                            help="fraction of frames dropped when measuring frame dropping (default 0.5)")
        parser.add_argument("--drop-threshold", type=float, default=None,
                            help="d_th shipped with the weights (default: calibrated on validation)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> GestureTask:
        return cls(
            args.data,
            args.config,
            T=args.T,
            dt_us=None if args.dt_ms is None else round(args.dt_ms * 1000),
            attention=args.attention,
            loss=args.loss,
            logit_scale=args.logit_scale,
            binary=args.binary,
            clips=args.clips,
            val_split=args.val_split,
            drop_fraction=args.drop_fraction,
            drop_threshold=args.drop_threshold,
            seed=getattr(args, "seed", 0),
        )

    @classmethod
    def from_manifest(cls, manifest: dict, data: Path, split: str) -> GestureTask:
        rep = manifest.get("representation", {})
        task = cls(
            data,
            GestureNetConfig.from_dict(manifest["config"]),
            loss=manifest.get("loss", "mse"),
            logit_scale=manifest.get("logit_scale", 10.0),
            binary=rep.get("mode") == "binary",
            clips=manifest.get("evaluation", {}).get("clips", 10),
            val_split=split,
            drop_fraction=manifest.get("drop_fraction", 0.5),
            drop_threshold=manifest.get("drop_threshold"),
            seed=manifest.get("seed", 0),
        )
        task.config_name = manifest.get("config_name", "custom")
        task.shipped_threshold = shipped_threshold(manifest)
        return task

    # -- the extra evaluation of `spikesight eval --report` --------------------------------------

    def report(self, model: nn.Module, device: torch.device, out_dir: Path | None = None,
               latency_max_ms: float = 3000.0, latency_step_ms: float = 100.0,
               confidence: float = 0.6) -> dict[str, Any]:
        """Confusion matrix, accuracy against the fraction of frames dropped (attention-based and
        random) and against the time since the gesture started; JSON numbers, PNGs in ``out_dir``."""
        net = _unwrap(model).eval()
        _, val = self.datasets()
        ds: DVSGesture = val.ds  # type: ignore[attr-defined]
        threshold = self.drop_threshold if self.drop_threshold is not None else self.shipped_threshold
        with torch.no_grad():
            loader = DataLoader(val, batch_size=16, shuffle=False, collate_fn=self.collate)
            curves = drop_curves(self, net, loader, device, DROP_FRACTIONS, threshold)
            latency = latency_curve(
                self, net, ds, device, latency_max_ms, latency_step_ms, confidence, threshold
            )
        result = {**curves, "latency": latency, "class_ids": list(CLASS_IDS),
                  "class_names": list(GESTURE_NAMES), "split": self.val_split}
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            result["figures"] = [str(p) for p in plot_report(result, out_dir)]
            (out_dir / "gesture_report.json").write_text(json.dumps(result, indent=2) + "\n")
        return result


def shipped_threshold(manifest: dict) -> float | None:
    """The frame-dropping threshold of weights: the manifest's ``drop_threshold``, else the one
    calibrated on validation when they were trained (``metrics.val.drop_threshold``), else ``None``."""
    if manifest.get("drop_threshold") is not None:
        return float(manifest["drop_threshold"])
    value = manifest.get("metrics", {}).get("val", {}).get("drop_threshold")
    return None if value is None or not math.isfinite(value) else float(value)


def _segment_accuracy(probs: np.ndarray, segments: np.ndarray, labels: np.ndarray) -> float:
    mean, _, label = segment_scores(probs, segments, labels)
    return float((mean.argmax(1) == label).mean())


def drop_curves(
    task: GestureTask,
    net: GestureNet,
    batches: Iterable[Any],
    device: torch.device,
    fractions: Iterable[float],
    threshold: float | None,
) -> dict[str, Any]:
    """Per-segment accuracy without dropping (and its confusion matrix), against the fraction of
    frames dropped by attention score (kept frames weighted by their score, and with weight 1 as the
    paper's IAP) and at random (kept frames weighted by their score), and at ``threshold``."""
    fractions = list(fractions)
    gen = torch.Generator().manual_seed(0)
    full: list[torch.Tensor] = []
    curves: dict[str, dict[float, list[torch.Tensor]]] = {
        k: {f: [] for f in fractions} for k in ("attention", "attention_weight_one", "random")
    }
    at_th: list[torch.Tensor] = []
    kept_th: list[torch.Tensor] = []
    labels, segments = [], []
    for batch in batches:
        b = task.to_device(batch, device)
        x = b["frames"].transpose(0, 1)
        full.append(task.probabilities(net(x)).cpu())
        scores = net.frame_scores(x) if net.gate is not None else None
        for f in fractions:
            if scores is not None:
                top = keep_top(scores, f)
                for key, weight in (("attention", "soft"), ("attention_weight_one", "one")):
                    rates = rates_with_dropping(net, x, top, scores, weight)
                    curves[key][f].append(task.probabilities(rates).cpu())
            keep = keep_random(tuple(x.shape[:2]), f, gen).to(x.device)
            curves["random"][f].append(task.probabilities(rates_with_dropping(net, x, keep, scores)).cpu())
        if scores is not None and threshold is not None:
            keep = scores >= threshold
            at_th.append(task.probabilities(rates_with_dropping(net, x, keep, scores)).cpu())
            kept_th.append(keep.float().mean(0).cpu())
        labels.append(b["label"].cpu())
        segments.append(b["segment"].cpu())
    y = torch.cat(labels).numpy()
    seg = torch.cat(segments).numpy()
    p = torch.cat(full).numpy()
    mean, _, seg_label = segment_scores(p, seg, y)
    k = p.shape[1]
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (seg_label, mean.argmax(1)), 1)
    drop_curve: dict[str, Any] = {"fraction": fractions}
    for key, per_fraction in curves.items():
        drop_curve[key] = (
            [_segment_accuracy(torch.cat(per_fraction[f]).numpy(), seg, y) for f in fractions]
            if per_fraction[fractions[0]]
            else None
        )
    out: dict[str, Any] = {
        "accuracy": float((mean.argmax(1) == seg_label).mean()),
        "accuracy_clip": float((p.argmax(1) == y).mean()),
        "segments": int(len(seg_label)),
        "confusion_matrix": confusion.tolist(),
        "drop_curve": drop_curve,
    }
    if at_th:
        out["threshold"] = {
            "d_th": float(threshold),
            "accuracy": _segment_accuracy(torch.cat(at_th).numpy(), seg, y),
            "dropped_fraction": float(1.0 - torch.cat(kept_th).mean()),
        }
    return out


def latency_curve(
    task: GestureTask,
    net: GestureNet,
    ds: DVSGesture,
    device: torch.device,
    max_ms: float,
    step_ms: float,
    confidence: float,
    threshold: float | None,
) -> dict[str, Any]:
    """Accuracy of the decision taken ``L`` ms after each gesture starts, from the window of the last
    ``T x dt`` ending there (only the gesture's events: the window is empty before its start).

    ``accuracy[k]``: top-1 right at ``ms[k]`` among segments at least that long; ``decided_right[k]``:
    fraction of them with a confident (``>= confidence``) right decision at that time;
    ``first_decision_ms``: per segment, the first time a confident decision is taken (None if never),
    with ``first_decision_right`` saying whether it was right; ``first_decision``: for several
    confidence levels, the median time of the first confident decision, the fraction of segments
    that get one, and how often it is right.
    """
    c = net.config
    window = c.T * c.dt_us
    longest = max((seg.end - seg.start for seg in ds.segments), default=0)
    grid = [round(step_ms * k * 1000) for k in range(1, int(max_ms // step_ms) + 1)]
    grid = [g for g in grid if g <= longest] or grid[:1]
    n = len(grid)
    right = np.zeros((len(ds.segments), n), dtype=bool)
    top = np.zeros((len(ds.segments), n))  # top probability, 0 past the segment's end
    right_dropped = np.zeros_like(right)
    valid = np.zeros_like(right)
    dropping = threshold is not None and net.gate is not None
    for s, seg in enumerate(ds.segments):
        ends = [seg.start + g for g in grid if seg.start + g <= seg.end]
        if not ends:
            continue
        ev = ds.segment_events(s)
        if ds.resize is not None:
            ev = ds.resize(ev)
        x = torch.stack([ds.frames(ev, e - window, e) for e in ends], dim=1).to(device)
        probs, probs_dropped = [], []
        for a in range(0, x.shape[1], 32):
            xb = x[:, a : a + 32]
            probs.append(task.probabilities(net(xb)).cpu())
            if dropping:
                scores = net.frame_scores(xb)
                rates = rates_with_dropping(net, xb, scores >= threshold, scores)
                probs_dropped.append(task.probabilities(rates).cpu())
        p = torch.cat(probs).numpy()
        m = len(ends)
        valid[s, :m] = True
        right[s, :m] = p.argmax(1) == seg.label
        top[s, :m] = p.max(1)
        if probs_dropped:
            right_dropped[s, :m] = torch.cat(probs_dropped).numpy().argmax(1) == seg.label
    counts = valid.sum(0)

    def rate(a: np.ndarray) -> list[float | None]:
        return [float(a[:, k].sum() / counts[k]) if counts[k] else None for k in range(n)]

    def first(level: float) -> tuple[list[float | None], list[bool]]:
        ms: list[float | None] = []
        ok: list[bool] = []
        for s in range(len(ds.segments)):
            hits = np.flatnonzero(top[s] >= level)
            ms.append(grid[hits[0]] / 1000 if len(hits) else None)
            ok.append(bool(len(hits)) and bool(right[s, hits[0]]))
        return ms, ok

    first_ms, first_right = first(confidence)
    table = []
    for level in sorted({0.5, 0.6, 0.7, 0.8, 0.9, confidence}):
        ms, ok = first(level)
        taken = [t for t in ms if t is not None]
        table.append({
            "confidence": level,
            "median_ms": float(np.median(taken)) if taken else None,
            "decided": len(taken) / max(len(ms), 1),
            "right": float(np.mean(ok)) if ok else None,
        })
    taken = [t for t in first_ms if t is not None]
    out: dict[str, Any] = {
        "ms": [g / 1000 for g in grid],
        "segments": counts.tolist(),
        "accuracy": rate(right),
        "decided_right": rate((top >= confidence) & right),
        "confidence": confidence,
        "window_ms": window / 1000,
        "first_decision_ms": first_ms,
        "first_decision_right": first_right,
        "median_first_decision_ms": float(np.median(taken)) if taken else None,
        "first_decision_accuracy": float(np.mean(first_right)) if first_right else None,
        "first_decision": table,
    }
    if dropping:
        out["accuracy_dropped"] = rate(right_dropped)
    return out


def plot_report(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``confusion.png``, ``drop_curve.png`` and ``latency.png`` from :meth:`GestureTask.report`'s numbers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = []

    def save(fig: Figure, name: str) -> None:
        FigureCanvasAgg(fig)
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=120)
        paths.append(path)

    cm = np.asarray(result["confusion_matrix"])
    names = [f"{i} {n}" for i, n in zip(result["class_ids"], result["class_names"], strict=True)]
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"per-segment top-1 {100 * result['accuracy']:.1f}% ({result['segments']} segments)")
    save(fig, "confusion.png")

    curve = result["drop_curve"]
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    pct = [100 * f for f in curve["fraction"]]
    if curve["attention"] is not None:
        ax.plot(pct, [100 * a for a in curve["attention"]], "o-", label="lowest attention scores dropped")
        ax.plot(pct, [100 * a for a in curve["attention_weight_one"]], "^:",
                label="the same, kept frames with weight 1 (IAP)")
    ax.plot(pct, [100 * a for a in curve["random"]], "s--", label="random frames dropped (IRP)")
    if "threshold" in result:
        th = result["threshold"]
        ax.plot([100 * th["dropped_fraction"]], [100 * th["accuracy"]], "k*", markersize=12,
                label=f"d_th = {th['d_th']:.3f}")
    ax.set_xlabel("frames dropped (%)")
    ax.set_ylabel("per-segment accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "drop_curve.png")

    lat = result["latency"]
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()

    def pct_or_nan(values: list[float | None]) -> list[float]:
        return [math.nan if v is None else 100 * v for v in values]

    ax.plot(lat["ms"], pct_or_nan(lat["accuracy"]), "-", label="top-1 right")
    sure = f"confident (>= {lat['confidence']:g}) and right"
    ax.plot(lat["ms"], pct_or_nan(lat["decided_right"]), "-", label=sure)
    if "accuracy_dropped" in lat:
        ax.plot(lat["ms"], pct_or_nan(lat["accuracy_dropped"]), "--", label="top-1 right, frames dropped")
    ax.axvline(lat["window_ms"], color="grey", lw=0.8, ls=":", label="window length (T x dt)")
    ax.set_xlabel("ms after the gesture starts")
    ax.set_ylabel("segments (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "latency.png")
    return paths
