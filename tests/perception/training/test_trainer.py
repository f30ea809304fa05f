"""The shared trainer on a toy spiking task: learning, exact resume, atomic files, logs, export, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikesight.perception.training import TrainConfig, Trainer, TrainingError
from spikesight.perception.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from spikesight.perception.training.log import read_csv
from spikesight.perception.training.trainer import lr_factor
from spikesight.perception.weights import WeightsError, load_weights

from .toy import ToyTask


def cfg(tmp_path: Path, **kw) -> TrainConfig:
    base = {"out": tmp_path / "run", "epochs": 4, "batch_size": 8, "lr": 1e-2, "device": "cpu", "seed": 5,
            "checkpoint_every": 3}
    base.update(kw)
    return TrainConfig(**base)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_learns_and_writes_log_curves_and_weights(tmp_path):
    tr = Trainer(ToyTask(n_train=256), cfg(tmp_path, epochs=6), command="toy run", data="toy data")
    summary = tr.fit()
    rows = read_csv(tmp_path / "run" / "log.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {"train_loss", "train_bce", "val_accuracy", "lr", "seconds"} <= set(rows[0])
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert summary["best"] == max(r["val_accuracy"] for r in rows) > 0.7
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    state, manifest = load_weights(tmp_path / "run" / "toy.pt", task="toy")
    assert manifest["metrics"]["val"]["accuracy"] == summary["best"]
    assert manifest["epoch"] == summary["best_epoch"]
    assert manifest["command"] == "toy run" and manifest["data"] == "toy data"
    assert manifest["config"] == {"hidden": 64}
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert same(best["model"], state)


def test_schedule_warms_up_then_decays_to_the_final_ratio():
    assert lr_factor(0, 100, 10, 0.01) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.01) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, 0.01) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.01) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(100, 100, 10, 0.01) == pytest.approx(0.01)


@pytest.mark.parametrize("stop", ["epoch_end", "mid_epoch"])
def test_resume_reaches_the_weights_of_an_uninterrupted_run(tmp_path, stop):
    full = Trainer(ToyTask(), cfg(tmp_path / "a"))
    full.fit()
    straight = weights(full.model)

    class Stop(Exception):
        pass

    interrupted = Trainer(ToyTask(), cfg(tmp_path / "b"))
    original = ToyTask.loss
    calls = {"n": 0}
    # 64 samples / batch 8 = 8 steps an epoch; checkpoints at steps 3 and 6 of each epoch and at its end.
    limit = 16 if stop == "epoch_end" else 8 + 7

    def loss(self, model, batch):
        calls["n"] += 1
        if calls["n"] > limit:
            raise Stop
        return original(self, model, batch)

    ToyTask.loss = loss
    try:
        with pytest.raises(Stop):
            interrupted.fit()
    finally:
        ToyTask.loss = original
    state = load_checkpoint(tmp_path / "b" / "run" / "last.pt")
    assert (state["epoch"], state["step_in_epoch"]) == ((2, 0) if stop == "epoch_end" else (1, 6))
    resumed = Trainer(ToyTask(), cfg(tmp_path / "b"))
    resumed.fit(resume=True)
    assert same(weights(resumed.model), straight)
    a = read_csv(tmp_path / "a" / "run" / "log.csv")
    b = read_csv(tmp_path / "b" / "run" / "log.csv")
    assert [r["train_loss"] for r in a] == pytest.approx([r["train_loss"] for r in b], rel=1e-9)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"v": 1}, path)

    def boom(obj, f, *a, **k):
        Path(f).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_bad_checkpoints_are_refused_with_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "other.pt")


def test_non_finite_loss_and_empty_data_stop_with_a_clear_error(tmp_path):
    with pytest.raises(TrainingError, match="non-finite loss"):
        Trainer(ToyTask(bad_loss=True), cfg(tmp_path)).fit()
    with pytest.raises(TrainingError, match="no batch"):
        Trainer(ToyTask(n_train=4), cfg(tmp_path)).fit()


def test_damaged_exported_weights_are_refused(tmp_path):
    Trainer(ToyTask(), cfg(tmp_path, epochs=1)).fit()
    path = tmp_path / "run" / "toy.pt"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_weights(path)
    with pytest.raises(WeightsError, match="task"):
        load_weights(path, task="detect", verify=False)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["task"] == "toy" and len(manifest["sha256"]) == 64


def test_torchrun_two_processes_end_with_identical_weights(tmp_path):
    script = Path(__file__).with_name("ddp_run.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert same(r0, r1)
    initial = torch.load(tmp_path / "toy.pt", weights_only=True)
    assert not same(initial, {k: torch.zeros_like(v) for k, v in initial.items()})
    rows = read_csv(tmp_path / "log.csv")
    assert len(rows) == 2


def test_init_starts_from_given_weights_and_the_manifest_says_so(tmp_path):
    first = Trainer(ToyTask(), cfg(tmp_path / "a", epochs=1))
    first.fit()
    weights_path = tmp_path / "a" / "run" / "toy.pt"
    start, _ = load_weights(weights_path)
    second = Trainer(ToyTask(), cfg(tmp_path / "b", epochs=1, lr=1e-9, init=str(weights_path)))
    second.fit()
    # a vanishing learning rate: the model stays (almost) where it started, not at a random init
    for k, v in second.model.state_dict().items():
        torch.testing.assert_close(v, start[k], atol=1e-5, rtol=0)
    _, manifest = load_weights(tmp_path / "b" / "run" / "toy.pt")
    assert manifest["train"]["init"] == str(weights_path)
