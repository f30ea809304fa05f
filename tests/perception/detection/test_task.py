"""DetectionTask: batches, loss, evaluation with known answers, manifest round trip, the trainer."""

import argparse
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.io import make_events, write_events
from spikesight.io.bbox import write_boxes
from spikesight.perception.detection.config import STRIDES, DetectorConfig
from spikesight.perception.detection.inputs import DetectionInput
from spikesight.perception.detection.pipeline import build_from_manifest
from spikesight.perception.detection.postprocess import make_anchors
from spikesight.perception.detection.task import DetectionTask
from spikesight.perception.training import TrainConfig, Trainer

W, H = 304, 240
SMALL = DetectionInput.for_sensor(W, H, 0.25, "histogram", 2, 100_000)  # 96 x 64


def write_split(folder, seed, n_labels=4):
    """One recording: random events over 1.2 s, two boxes every 100 ms from 600 ms on."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n = 4000
    ev = make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(0, 1_200_000, n)))
    write_events(folder / "rec_td.dat", ev, W, H)
    rows = []
    for k in range(n_labels):
        t = 600_000 + 100_000 * k
        rows.append((t, 20 + 10 * k, 30, 80, 60, 0, 1))
        rows.append((t, 200, 100 + 5 * k, 30, 90, 1, 2))
    dtype = [("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
             ("class_id", "<u4"), ("track_id", "<u4")]
    write_boxes(folder / "rec_bbox.npy", np.array(rows, dtype=dtype), "gen1")


@pytest.fixture
def data(tmp_path):
    write_split(tmp_path / "train", 1)
    write_split(tmp_path / "val", 2, n_labels=3)
    return tmp_path


def small_task(data, **kw):
    return DetectionTask(data, DetectorConfig("tiny", 2, SMALL.channels), SMALL, **kw)


def test_batches_and_loss(data):
    task = small_task(data)
    train, val = task.datasets()
    assert (len(train), len(val)) == (4, 3)
    x, targets = task.collate([train[0], train[1], train[3]])
    assert x.shape == (2, 3, 2, 64, 96)
    assert targets.shape == (6, 6) and targets[:, 0].tolist() == [0, 0, 1, 1, 2, 2]
    model = task.build_model()
    loss, parts = task.loss(model, task.to_device((x, targets), torch.device("cpu")))
    assert math.isfinite(loss.item()) and set(parts) == {"box", "cls", "dfl"}
    loss.backward()


class PerfectModel(nn.Module):
    """Head maps that decode to given boxes: one anchor per box, the DFL bins placed exactly."""

    def __init__(self, batches, shape, reg_max=16):
        super().__init__()
        self.batches, self.shape, self.reg_max = list(batches), shape, reg_max
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        targets = self.batches.pop(0)
        h, w = self.shape
        sizes = [(h // s, w // s) for s in STRIDES]
        anchors, strides = make_anchors(sizes, STRIDES)
        r = self.reg_max
        flat = torch.full((x.shape[1], len(anchors), 4 * r + 2), -30.0)
        for b, cls, *box in targets.tolist():
            box = torch.tensor(box)
            centre = (box[:2] + box[2:]) / 2
            inside = (anchors > box[:2]).all(1) & (anchors < box[2:]).all(1) & (strides == 8)
            a = int(torch.where(inside, -(anchors - centre).norm(dim=1), torch.tensor(-1e9)).argmax())
            dist = torch.cat((anchors[a] - box[:2], box[2:] - anchors[a])) / strides[a]
            for side, d in enumerate(dist.tolist()):
                lo = math.floor(d)
                flat[int(b), a, side * r : (side + 1) * r] = -1e4
                flat[int(b), a, side * r + lo] = math.log(max(lo + 1 - d, 1e-30))
                flat[int(b), a, side * r + lo + 1] = math.log(max(d - lo, 1e-30))
            flat[int(b), a, 4 * r + int(cls)] = 30.0
        outs, start = [], 0
        for hh, ww in sizes:
            outs.append(flat[:, start : start + hh * ww].transpose(1, 2).reshape(x.shape[1], -1, hh, ww))
            start += hh * ww
        return outs


def test_evaluate_perfect_and_empty_predictions(data):
    task = small_task(data)
    _, val = task.datasets()
    batches = [task.collate([val[0], val[1]]), task.collate([val[2]])]
    perfect = PerfectModel([b[1] for b in batches], (64, 96))
    m = task.evaluate(perfect, batches, torch.device("cpu"))
    assert m["map50"] == pytest.approx(1.0) and m["map50_95"] == pytest.approx(1.0)
    assert m["ap50_car"] == pytest.approx(1.0) and m["ap50_pedestrian"] == pytest.approx(1.0)
    silent = PerfectModel([torch.zeros(0, 6), torch.zeros(0, 6)], (64, 96))
    m = task.evaluate(silent, batches, torch.device("cpu"))
    assert m == {"map50_95": 0.0, "map50": 0.0, "ap50_car": 0.0, "ap50_pedestrian": 0.0}


def test_evaluate_a_random_model(data):
    task = small_task(data)
    _, val = task.datasets()
    model = task.build_model().eval()
    with torch.no_grad():
        m = task.evaluate(model, [task.collate([val[i] for i in range(3)])], torch.device("cpu"))
    assert set(m) == {"map50_95", "map50", "ap50_car", "ap50_pedestrian"}
    assert all(0.0 <= v <= 1.0 for v in m.values())


def test_manifest_round_trip_and_pipeline_build(data):
    task = small_task(data, flip=False, conf=0.3)
    manifest = json.loads(json.dumps(task.manifest()))
    again = DetectionTask.from_manifest(manifest, data, "val")
    assert again.config == task.config and again.inputs == task.inputs and again.classes == task.classes
    assert again.conf == 0.3 and again.val_split == "val"
    _, spec, classes = build_from_manifest(task.build_model().state_dict(), manifest)
    assert spec == SMALL and classes == ("car", "pedestrian")
    assert task.default_name == "detect_tiny"


def test_command_line_arguments(data):
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=lambda s: __import__("pathlib").Path(s))
    DetectionTask.add_arguments(parser)
    args = parser.parse_args(["--data", str(data), "--representation", "histogram", "--T", "3",
                              "--window-ms", "100", "--input-scale", "1", "--no-flip"])
    task = DetectionTask.from_args(args)
    assert task.inputs == DetectionInput("histogram", 3, 100_000, W, H, 320, 256, "pad")
    assert task.config.in_channels == 2 and not task.flip
    default = DetectionTask.from_args(parser.parse_args(["--data", str(data)]))
    assert default.inputs.shape == (4, 3, 128, 160)


def test_mismatched_settings_raise(data):
    with pytest.raises(ValueError, match="channels"):
        DetectionTask(data, DetectorConfig("tiny", 2, 3), SMALL)
    with pytest.raises(ValueError, match="class"):
        DetectionTask(data, DetectorConfig("tiny", 3, 2), SMALL)


def test_trains_through_the_trainer(data, tmp_path):
    task = small_task(data)
    cfg = TrainConfig(out=tmp_path / "run", epochs=1, batch_size=2, max_steps_per_epoch=2, threads=1)
    summary = Trainer(task, cfg, command="test", progress=False).fit()
    assert summary["epochs"] == 1 and (tmp_path / "run" / "last.pt").exists()
    assert math.isfinite(summary["history"][0]["train_loss"])


def test_report_gives_the_f1_confidence_operating_point(data, tmp_path):
    task = small_task(data)
    _, val = task.datasets()
    chunks = [range(k, min(k + 8, len(val))) for k in range(0, len(val), 8)]
    targets = [task.collate([val[i] for i in chunk])[1] for chunk in chunks]
    perfect = PerfectModel(targets, (64, 96))
    out = task.report(perfect, torch.device("cpu"), tmp_path)
    op = out["operating_point"]
    assert op["conf"] == 0.05 and op["mean_f1"] == pytest.approx(1.0)
    for name in ("car", "pedestrian"):
        assert op["per_class"][name]["recall"] == pytest.approx(1.0)
        assert op["per_class"][name]["precision"] == pytest.approx(1.0)
    assert (tmp_path / "f1_confidence.png").stat().st_size > 0
