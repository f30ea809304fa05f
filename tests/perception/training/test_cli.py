"""`spikesight train` / `spikesight eval` through the task registry, on the toy task."""

from __future__ import annotations

import json

import pytest

from spikesight.cli import main
from spikesight.perception.training import cli
from spikesight.perception.weights import read_manifest


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(cli.TASKS, "toy", "tests.perception.training.toy:ToyTask")


def test_train_then_eval_records_the_metrics(tmp_path, toy_registered, capsys):
    out = tmp_path / "run"
    rc = cli.main(["train", "toy", "--data", str(tmp_path), "--out", str(out), "--epochs", "2",
                   "--batch-size", "8", "--lr", "0.01", "--device", "cpu", "--n-train", "128", "-q"])
    assert rc == 0
    manifest = read_manifest(out / "toy.pt")
    assert manifest["command"].startswith("spikesight train toy --data")
    assert manifest["train"]["epochs"] == 2 and manifest["train"]["batch_size"] == 8
    rc = cli.main(["eval", "toy", "--data", str(tmp_path), "--weights", str(out / "toy.pt"),
                   "--split", "test", "--json", str(tmp_path / "m.json"), "--device", "cpu",
                   "--write-manifest"])
    assert rc == 0
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["split"] == "test" and 0 <= result["metrics"]["accuracy"] <= 1
    updated = read_manifest(out / "toy.pt")
    assert updated["metrics"]["test"]["accuracy"] == result["metrics"]["accuracy"]
    assert updated["eval_commands"]["test"].startswith("spikesight eval toy")
    assert updated["metrics"]["val"] == manifest["metrics"]["val"]
    assert "accuracy" in capsys.readouterr().out


def test_unknown_task_and_missing_weights_are_clear(tmp_path, toy_registered, capsys):
    with pytest.raises(SystemExit):
        main(["train", "nosuchtask"])
    assert "invalid choice" in capsys.readouterr().err
    rc = main(["eval", "toy", "--data", str(tmp_path), "--weights", str(tmp_path / "none.pt")])
    assert rc == 2
    assert "no such weights" in capsys.readouterr().err
