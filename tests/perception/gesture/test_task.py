"""GestureTask: frame-dropping helpers by hand, loss, per-segment evaluation, manifest, trainer round trip."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.perception.data import GESTURE_NAMES
from spikesight.perception.gesture import GestureNet
from spikesight.perception.gesture.task import (
    GestureTask,
    keep_random,
    keep_top,
    rates_with_dropping,
    segment_scores,
    shipped_threshold,
    threshold_for_fraction,
)
from spikesight.perception.training.config import TrainConfig
from spikesight.perception.training.task import TrainTask
from spikesight.perception.training.trainer import Trainer, evaluate

from .conftest import TINY


@pytest.fixture
def task(gesture_root, tmp_path) -> GestureTask:
    return GestureTask(gesture_root, TINY, clips=3, cache_dir=tmp_path / "cache")


def test_keep_top_by_hand():
    scores = torch.tensor([[0.1, 0.9], [0.5, 0.2], [0.3, 0.3], [0.7, 0.3]])
    keep = keep_top(scores, 0.5)
    assert keep.tolist() == [[False, True], [True, False], [False, True], [True, False]]  # tie: earlier
    assert keep_top(scores, 0.0).all() and not keep_top(scores, 1.0).any()
    assert keep_top(scores, 0.3).sum(0).tolist() == [3, 3]  # 4 - round(1.2)
    with pytest.raises(ValueError):
        keep_top(scores, 1.5)


def test_keep_random_counts_and_reproducible():
    a = keep_random((10, 5), 0.3, torch.Generator().manual_seed(1))
    b = keep_random((10, 5), 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.sum(0).tolist() == [7] * 5
    assert len({tuple(c) for c in a.T.tolist()}) > 1  # windows differ


def test_dropping_nothing_with_soft_weights_is_the_network_itself():
    torch.manual_seed(0)
    net = GestureNet(TINY).eval()
    x = torch.rand(TINY.T, 3, 2, 16, 16) * (torch.rand(TINY.T, 3, 2, 16, 16) < 0.3) * 8
    with torch.no_grad():
        scores = net.frame_scores(x)
        all_kept = torch.ones(TINY.T, 3, dtype=torch.bool)
        torch.testing.assert_close(rates_with_dropping(net, x, all_kept, scores), net(x))
        half = keep_top(scores, 0.5)
        # kept frames weighted by their score: the input attention's product, on the kept frames only
        weighted = x * scores[..., None, None, None]
        torch.testing.assert_close(rates_with_dropping(net, x, half, scores), net(weighted, keep=half))
        torch.testing.assert_close(rates_with_dropping(net, x, half, scores, "one"), net(x, keep=half))
    with pytest.raises(ValueError):
        rates_with_dropping(net, x, half, scores, "half")


def test_threshold_for_fraction_by_hand():
    scores = np.array([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 1.0, 0.4, 0.6, 0.8])
    th = threshold_for_fraction(scores, 0.3)
    assert th == 0.4
    assert (scores < th).sum() == 3
    assert threshold_for_fraction(scores, 0.0) == 0.1


def test_segment_scores_by_hand():
    probs = np.array([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.45, 0.55]])
    segments = np.array([4, 4, 4, 9, 9])
    labels = np.array([1, 1, 1, 0, 0])
    mean, vote, label = segment_scores(probs, segments, labels)
    np.testing.assert_allclose(mean, [[0.3, 0.7], [0.575, 0.425]])
    # segment 9: one vote each; the class of higher mean probability wins the tie
    assert vote.tolist() == [1, 0] and label.tolist() == [1, 0]


class _Fixed(nn.Module):
    def __init__(self, rates: torch.Tensor) -> None:
        super().__init__()
        self.rates = rates

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rates


def test_losses_by_hand(gesture_root, tmp_path):
    rates = torch.tensor([[0.5, 0.0, 0.25] + [0.0] * 8, [0.0] * 10 + [1.0]])
    batch = {"frames": torch.zeros(2, TINY.T, 2, 16, 16), "label": torch.tensor([0, 2])}
    mse = GestureTask(gesture_root, TINY, loss="mse", cache_dir=tmp_path)
    loss, parts = mse.loss(_Fixed(rates), batch)
    # row 0 (label 0): (0.5-1)^2 + 0.25^2; row 1 (label 2): (0-1)^2 + 1^2; over 22 entries
    assert loss.item() == pytest.approx((0.25 + 0.0625 + 1.0 + 1.0) / 22)
    assert parts["accuracy"] == 0.5  # argmaxes 0 and 10 against labels 0 and 2
    ce = GestureTask(gesture_root, TINY, loss="ce", logit_scale=4.0, cache_dir=tmp_path)
    loss, _ = ce.loss(_Fixed(rates), batch)
    by_hand = -(torch.log_softmax(4 * rates, 1)[[0, 1], [0, 2]]).mean()
    assert loss.item() == pytest.approx(by_hand.item())


def test_datasets_and_collate(task):
    assert isinstance(task, TrainTask)
    train, val = task.datasets()
    assert len(train) == 3 and len(val) == 3 * 3  # 3 segments; 3 clips each
    batch = task.collate([val[i] for i in range(4)])
    assert batch["frames"].shape == (4, TINY.T, 2, 16, 16)
    assert batch["segment"].tolist() == [0, 0, 0, 1]
    labels = [r.split(",")[0] for r in (task.data / "user02_led_labels.csv").read_text().splitlines()[1:]]
    assert batch["label"].tolist() == [int(labels[0]) - 1] * 3 + [int(labels[1]) - 1]
    train.set_epoch(3)
    assert train.ds.epoch == 3


def test_evaluate_against_a_direct_computation(task):
    torch.manual_seed(2)
    net = GestureNet(task.config).eval()
    _, val = task.datasets()
    metrics = evaluate(task, net, val, torch.device("cpu"), batch_size=4)
    # the reference: every window on its own, probabilities averaged per segment by hand
    per_segment: dict[int, list[np.ndarray]] = {}
    labels = {}
    right_clips = 0
    with torch.no_grad():
        for i in range(len(val)):
            x, y, s = val[i]
            rates = net(x[:, None])[0]
            p = torch.softmax(10.0 * rates, 0).numpy()
            per_segment.setdefault(s, []).append(p)
            labels[s] = y
            right_clips += int(p.argmax() == y)
    right = sum(int(np.mean(ps, 0).argmax() == labels[s]) for s, ps in per_segment.items())
    assert metrics["accuracy"] == pytest.approx(right / len(per_segment))
    assert metrics["accuracy_clip"] == pytest.approx(right_clips / len(val))
    assert metrics["segments"] == 3 and metrics["windows"] == 9
    assert 0.0 <= metrics["drop_threshold"] <= 1.0 and metrics["drop_fraction"] == 0.5


def test_manifest_and_rebuild(task, gesture_root):
    m = json.loads(json.dumps(task.manifest()))  # JSON-serialisable
    assert m["classes"] == [{"id": i + 1, "name": n} for i, n in enumerate(GESTURE_NAMES)]
    assert m["classes"][0]["name"] == "hand_clapping" and m["classes"][10]["name"] == "other_gestures"
    assert (m["T"], m["dt_us"], m["sensor_size"]) == (TINY.T, TINY.dt_us, 128)
    rep = m["representation"]
    assert (rep["size"], rep["window_us"], rep["mode"]) == (16, TINY.T * TINY.dt_us, "count")
    assert m["drop_threshold"] is None and m["loss"] == "mse"
    again = GestureTask.from_manifest({**m, "task": "gesture"}, gesture_root, "test")
    assert again.config == task.config and again.val_split == "test" and again.clips == 3
    assert again.manifest()["representation"] == rep


def test_from_args(gesture_root):
    p = argparse.ArgumentParser()
    p.add_argument("--data")
    p.add_argument("--seed", type=int, default=0)
    GestureTask.add_arguments(p)
    args = p.parse_args(["--data", str(gesture_root), "--config", "small", "--T", "12", "--dt-ms", "12.5",
                         "--loss", "ce", "--binary", "--seed", "7"])
    task = GestureTask.from_args(args)
    assert (task.config.T, task.config.dt_us, task.loss_name, task.binary, task.seed) == (12, 12_500, "ce",
                                                                                           True, 7)
    assert task.config.conv_channels == (16, 32, 32) and task.default_name == "gesture_small"
    assert task.manifest()["representation"]["mode"] == "binary"


def test_val_split_falls_back_to_test(tmp_path, caplog):
    (tmp_path / "trials_to_train.txt").write_text("")
    with caplog.at_level(logging.WARNING):
        task = GestureTask(tmp_path, TINY)
    assert task.val_split == "test" and "trials_to_val" in caplog.text


@pytest.mark.parametrize(
    "kwargs",
    [{"config": "huge"}, {"loss": "l1"}, {"drop_fraction": 1.0}, {"drop_threshold": 2.0}, {"clips": 0}],
)
def test_bad_arguments(gesture_root, kwargs):
    config = kwargs.pop("config", TINY)
    with pytest.raises(ValueError):
        GestureTask(gesture_root, config, **kwargs)


def test_shipped_threshold():
    assert shipped_threshold({"drop_threshold": 0.3, "metrics": {"val": {"drop_threshold": 0.6}}}) == 0.3
    assert shipped_threshold({"drop_threshold": None, "metrics": {"val": {"drop_threshold": 0.6}}}) == 0.6
    assert shipped_threshold({"metrics": {"val": {"drop_threshold": float("nan")}}}) is None
    assert shipped_threshold({}) is None


def test_train_export_and_report(task, gesture_root, tmp_path):
    out = tmp_path / "run"
    config = TrainConfig(out=out, epochs=2, batch_size=3, device="cpu", lr=5e-3)
    summary = Trainer(task, config, progress=False).fit()
    assert summary["epochs"] == 2
    from spikesight.perception.training.cli import evaluate_weights
    from spikesight.perception.weights import read_manifest

    manifest = read_manifest(out / "gesture.pt")
    assert manifest["task"] == "gesture" and "drop_threshold" in manifest["metrics"]["val"]
    report_dir = tmp_path / "report"
    metrics = evaluate_weights("gesture", out / "gesture.pt", gesture_root, "test", device="cpu",
                               report=report_dir)
    r = metrics["report"]
    for name in ("confusion.png", "drop_curve.png", "latency.png", "gesture_report.json"):
        assert (report_dir / name).stat().st_size > 0
    cm = np.array(r["confusion_matrix"])
    assert cm.sum() == r["segments"] == 3
    assert np.trace(cm) / cm.sum() == pytest.approx(r["accuracy"]) == pytest.approx(metrics["accuracy"])
    curve = r["drop_curve"]
    # nothing dropped: every rule keeps every frame; with their soft weights that is the network itself
    assert curve["fraction"][0] == 0.0
    assert curve["attention"][0] == curve["random"][0] == r["accuracy"]
    assert len(curve["attention_weight_one"]) == len(curve["fraction"])
    assert [row["confidence"] for row in r["latency"]["first_decision"]] == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert r["threshold"]["d_th"] == manifest["metrics"]["val"]["drop_threshold"]
    lat = r["latency"]
    assert lat["ms"][0] == 100.0 and len(lat["accuracy"]) == len(lat["ms"]) == len(lat["segments"])
    assert lat["segments"][0] == 3 and len(lat["first_decision_ms"]) == 3
    assert json.loads((report_dir / "gesture_report.json").read_text())["segments"] == 3


def test_binary_frames_reach_the_model(gesture_root, tmp_path):
    task = GestureTask(gesture_root, replace(TINY, T=4), binary=True, clips=1, cache_dir=tmp_path)
    x, _, _ = task.datasets()[1][0]
    assert set(x.unique().tolist()) <= {0.0, 1.0} and x.sum() > 0
    assert task.build_model().eval()(x[:, None]).shape == (1, 11)
