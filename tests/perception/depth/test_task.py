"""DepthTask: data and batches, the loss, metrics worked out by hand, manifest round trip, the report,
and one short run through the shared trainer and ``spikesight eval``."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.perception.depth.task import PICTURE, DepthTask
from spikesight.perception.training.task import TrainTask

from ..data.test_mvsec import ORIGIN, write_mvsec

W, H = 24, 16


def dataset(root, maps: int = 5, seed: int = 0, depth_fn=None):
    """train/val/test folders, one recording each, events everywhere and depths 2-60 m (NaN sky)."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val", "test"):
        n = 600
        t_s = ORIGIN + np.sort(rng.uniform(0.0, 0.01 * (maps - 1), n))
        rows = np.column_stack([rng.integers(0, W, n), rng.integers(0, H, n), t_s,
                                rng.choice([-1.0, 1.0], n)])
        if depth_fn is None:
            depth = rng.uniform(2.0, 60.0, (maps, H, W)).astype(np.float32)
            depth[:, :3] = np.nan
        else:
            depth = depth_fn(maps)
        write_mvsec(root / split, f"rec_{split}", rows, depth, ORIGIN + 0.01 * np.arange(maps))
    return root


def make_task(root, *extra: str) -> DepthTask:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=lambda s: __import__("pathlib").Path(s))
    DepthTask.add_arguments(parser)
    args = parser.parse_args(["--data", str(root), "--T", "2", *extra])
    return DepthTask.from_args(args)


def test_is_a_train_task_with_batches_and_a_loss(tmp_path):
    task = make_task(dataset(tmp_path))
    assert isinstance(task, TrainTask) and task.metric == "mae_30" and task.metric_mode == "min"
    assert task.representation.width == 346  # the default, until the data is seen
    train, val = task.datasets()
    assert (task.representation.width, task.representation.height) == (W, H)  # the data's sensor
    assert len(train) == len(val) == 4  # maps 1..4 (map 0 has no events before it)
    batch = task.collate([train[0], train[1], train[2]])
    m = task.config.multiple  # the input is padded to the network's multiple once, in the representation
    assert batch["input"].shape == (2, 3, 2, -(-H // m) * m, -(-W // m) * m)  # [T, B, C, H, W]
    assert batch["target"].shape == batch["mask"].shape == batch["depth"].shape == (3, 1, H, W)
    torch.manual_seed(0)
    model = task.build_model()
    loss, parts = task.loss(model, task.to_device(batch, torch.device("cpu")))
    assert loss.ndim == 0 and math.isfinite(float(loss.detach())) and {"si", "grad", "loss"} <= set(parts)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


class ConstantLogDepth(nn.Module):
    """A stand-in network: normalised log depth 0.5 everywhere (80 e^-1.85 = 12.57 m)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[1], 1, x.shape[-2], x.shape[-1]), 0.5)


def test_evaluate_metrics_worked_by_hand(tmp_path):
    def depth_fn(maps):  # each map: left half 10 m, right half 25 m, top rows NaN; map k scaled
        d = np.empty((maps, H, W), np.float32)
        d[:, :, : W // 2] = 10.0
        d[:, :, W // 2 :] = 25.0
        d[:, :2] = np.nan
        return d

    task = make_task(dataset(tmp_path, depth_fn=depth_fn))
    _, val = task.datasets()
    batches = [task.collate([val[i] for i in range(k, min(k + 3, len(val)))]) for k in range(0, len(val), 3)]
    m = task.evaluate(ConstantLogDepth(), batches, torch.device("cpu"))
    p = 80 * math.exp(-1.85)
    assert m["frames"] == 4
    assert m["mae_10"] == pytest.approx(p - 10)
    assert m["mae_30"] == pytest.approx(((p - 10) + (25 - p)) / 2)
    assert m["abs_rel"] == pytest.approx(((p - 10) / 10 + (25 - p) / 25) / 2)
    assert m["rmse"] == pytest.approx(math.sqrt(((p - 10) ** 2 + (25 - p) ** 2) / 2))
    assert m["delta1"] == pytest.approx(0.0) and m["delta2"] == pytest.approx(0.5)  # 12.57/10 < 1.5625


def test_manifest_rebuilds_the_task_for_evaluation(tmp_path):
    root = dataset(tmp_path)
    task = make_task(root, "--representation", "voxel", "--bins", "3", "--grad-weight", "0.25",
                     "--abs-weight", "0.1")
    task.datasets()
    man = json.loads(json.dumps(task.manifest()))
    assert man["input"]["representation"] == "voxel" and man["config"]["in_channels"] == 3
    assert man["max_depth"] == 80.0 and man["alpha"] == 3.7 and man["T"] == 2
    again = DepthTask.from_manifest(man, root, "test")
    assert again.config == task.config and again.representation == task.representation
    assert again.criterion.grad_weight == 0.25 and again.abs_weight == 0.1
    train, test = again.datasets()
    assert train is test and test.recordings[0].recording.name == "rec_test" and not test.augment
    with pytest.raises(ValueError, match="T=2"):
        DepthTask(root, task.config, replace(task.representation, steps=3))


@pytest.mark.parametrize("ann", [False, True], ids=["snn", "ann"])
def test_report_per_window_streaming_energy_and_picture(tmp_path, ann):
    task = make_task(dataset(tmp_path / "data"), *(["--ann"] if ann else []))
    task.eval_split = "test"
    torch.manual_seed(0)
    model = task.build_model()
    out = task.report(model, torch.device("cpu"), tmp_path / "report")
    assert out["windows"] == 4 and out["per_window"]["frames"] == out["streaming"]["frames"] == 4
    assert (tmp_path / "report" / PICTURE).stat().st_size > 1000
    assert out["energy"]["ann_energy_j"] > 0
    if ann:
        assert out["streaming"] == out["per_window"]
    else:
        assert out["energy"]["snn_energy_j"] > 0


def test_trains_through_the_shared_trainer_and_evaluates_from_weights(tmp_path):
    from spikesight.perception.training.cli import evaluate_weights
    from spikesight.perception.training.config import TrainConfig
    from spikesight.perception.training.trainer import Trainer

    root = dataset(tmp_path / "data", maps=6)
    task = make_task(root)
    cfg = TrainConfig(out=tmp_path / "run", epochs=1, batch_size=2, lr=1e-3, device="cpu", name="depth_t",
                      checkpoint_every=0)
    summary = Trainer(task, cfg, command="test", data=str(root), progress=False).fit()
    weights = tmp_path / "run" / "depth_t.pt"
    assert weights.exists() and math.isfinite(summary["best"])
    man = json.loads(weights.with_suffix(".json").read_text())
    assert man["task"] == "depth" and man["input"]["width"] == W
    assert man["input"]["window_us"] == 10_000  # the data's map period, for the pipeline
    metrics = evaluate_weights("depth", weights, root, "test", batch_size=2, device="cpu")
    assert metrics["frames"] == 5 and math.isfinite(metrics["mae_30"])


def test_crops_are_for_training_only_evaluation_sees_whole_frames(tmp_path):
    task = make_task(dataset(tmp_path / "data"), "--crop", "16x8")
    train, val = task.datasets()
    assert train[0]["depth"].shape == (1, 8, 16)
    assert val[0]["depth"].shape == (1, H, W)
    task.eval_split = "test"
    out = task.report(task.build_model(), torch.device("cpu"), tmp_path / "report")  # pictures at full size
    assert out["per_window"]["frames"] == 4 and (tmp_path / "report" / PICTURE).exists()
