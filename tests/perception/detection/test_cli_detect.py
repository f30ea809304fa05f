"""``spikesight detect``: predictions as Gen1-style boxes (.npy) or JSON, a video, time ranges, errors."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from spikesight.io import write_events
from spikesight.io.bbox import read_boxes
from spikesight.perception.detection import pipeline as pipeline_module
from spikesight.perception.detection.cli import add_detect_parser
from spikesight.perception.detection.pipeline import DetectionPipeline, results_to_boxes
from spikesight.perception.weights import WeightsError

from .test_pipeline import SENSOR, one_thread, save_tiny, scene  # noqa: F401 - one_thread is autouse


def detect(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_detect_parser(parser.add_subparsers())
    args = parser.parse_args(["detect", *map(str, argv), "-q", "--threads", "1"])
    return args.func(args)


@pytest.fixture
def recording(tmp_path):
    """100 ms of events on the 128x96 sensor, the first at t = 0, as a .npy event file."""
    events = scene(0, 100_000, n=8000, seed=5)
    events["t"][0] = 0
    path = tmp_path / "rec.npy"
    write_events(path, events, *SENSOR)
    return path, events


def direct_run(weights, events, step: int, t0: int = 0, t1: int = 100_000):
    pipe = DetectionPipeline(weights, threads=1, step_us=step, monitor=False)
    results = []
    for a in range(t0, t1, step):
        window = events[(events["t"] >= a) & (events["t"] < a + step)]
        results.append(pipe.step(window, a, a + step))
    return results


def test_npy_predictions_read_like_labels(tmp_path, recording):
    path, events = recording
    weights = save_tiny(tmp_path)
    assert detect(path, "--weights", weights, "--out", tmp_path / "preds.npy", "--every", 20) == 0
    boxes = read_boxes(tmp_path / "preds.npy")
    assert len(boxes) > 10
    assert set(boxes["t"].tolist()) <= {20_000, 40_000, 60_000, 80_000, 100_000}
    expected = results_to_boxes(direct_run(weights, events, 20_000))
    np.testing.assert_array_equal(boxes, expected)
    assert (boxes["x"] >= 0).all() and (boxes["x"] + boxes["w"] <= SENSOR[0] + 1e-3).all()
    assert (boxes["class_confidence"] > 0.5).all()  # the manifest's threshold


def test_json_predictions_list_every_step(tmp_path, recording):
    path, events = recording
    weights = save_tiny(tmp_path)
    assert detect(path, "--weights", weights, "--out", tmp_path / "preds.json", "--every", 20,
                  "--conf", 0.55) == 0
    entries = json.loads((tmp_path / "preds.json").read_text())
    assert [e["t"] for e in entries] == [20_000, 40_000, 60_000, 80_000, 100_000]
    flat = [(e["t"], b) for e in entries for b in e["boxes"]]
    assert flat and all(set(b) == {"x", "y", "w", "h", "class", "class_name", "score"} for _, b in flat)
    assert all(b["class_name"] == ["car", "pedestrian"][b["class"]] and b["score"] > 0.55 for _, b in flat)
    expected = results_to_boxes(direct_run(weights, events, 20_000))
    expected = expected[expected["class_confidence"] > 0.55]
    got = np.array([(t, b["x"], b["y"], b["w"], b["h"], b["class"], b["score"]) for t, b in flat])
    fields = ["t", "x", "y", "w", "h", "class_id", "class_confidence"]
    want = np.array([tuple(row) for row in expected[fields]])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)


def test_start_end_and_the_default_step(tmp_path, recording):
    path, _ = recording
    weights = save_tiny(tmp_path, window_us=60_000)  # steps default to the 50 ms label period
    assert detect(path, "--weights", weights, "--out", tmp_path / "p.json") == 0
    assert [e["t"] for e in json.loads((tmp_path / "p.json").read_text())] == [50_000, 100_000]
    assert detect(path, "--weights", weights, "--out", tmp_path / "p.json", "--every", 20,
                  "--start", "40ms", "--end", "70ms") == 0
    entries = json.loads((tmp_path / "p.json").read_text())
    assert [e["t"] for e in entries] == [60_000, 70_000]


def test_video_draws_one_frame_per_step(tmp_path, recording):
    cv2 = pytest.importorskip("cv2")
    path, _ = recording
    out = tmp_path / "det.mp4"
    assert detect(path, "--weights", save_tiny(tmp_path), "--video", out, "--every", 25) == 0
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 4 and frames[0].shape == (2 * SENSOR[1], 2 * SENSOR[0], 3)
    # amber box outlines (BGR ~ (0, 176, 255)) are drawn on the dark event picture
    amber = (frames[-1][..., 2] > 200) & (frames[-1][..., 1] > 120) & (frames[-1][..., 0] < 90)
    assert amber.sum() > 50


def test_errors_are_clear(tmp_path, recording):
    path, _ = recording
    with pytest.raises(WeightsError, match="no such weights"):
        detect(path, "--weights", tmp_path / "nope.pt")
    weights = save_tiny(tmp_path)
    with pytest.raises(ValueError, match=r"\.npy or \.json"):
        detect(path, "--weights", weights, "--out", tmp_path / "preds.csv")
    wide = tmp_path / "wide.npy"
    write_events(wide, scene(0, 50_000, size=(160, 96)), 160, 96)
    with pytest.raises(ValueError, match="160x96, larger than the 128x96 sensor"):
        detect(wide, "--weights", weights)
    with pytest.raises(ValueError, match="--every"):
        detect(path, "--weights", weights, "--every", 0)


def test_parser_default_weights_are_the_pipelines():
    parser = argparse.ArgumentParser()
    add_detect_parser(parser.add_subparsers())
    assert parser.parse_args(["detect", "f.raw"]).weights == pipeline_module.DEFAULT_WEIGHTS
