"""The shipped detector on the bundled demo recording: it finds the cars and pedestrians there,
and its spike-driven mode gives the integer mode's detections."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from spikesight.io import read_events
from spikesight.io.bbox import filter_boxes, read_boxes
from spikesight.perception.detection.pipeline import DetectionPipeline
from spikesight.perception.detection.postprocess import box_iou
from spikesight.perception.snn.base import reset_net
from spikesight.perception.weights import load_weights

DEMO = Path(__file__).resolve().parents[3] / "spikesight" / "assets" / "demo"
WEIGHTS = os.environ.get("SPIKESIGHT_TEST_DETECT_WEIGHTS", "detect_tiny")
SLICE = (2_000_000, 6_000_000)


@pytest.fixture(scope="module")
def demo():
    events = read_events(DEMO / "street.raw")
    boxes = filter_boxes(read_boxes(DEMO / "street_bbox.npy"), 304, 240)
    return events, boxes


def label_times(boxes: np.ndarray, every: int = 4) -> np.ndarray:
    t = np.unique(boxes["t"])
    return t[(t >= SLICE[0]) & (t < SLICE[1])][::every]


def xyxy(b: np.ndarray) -> np.ndarray:
    return np.stack([b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]], 1).astype(np.float32)


def run_at(pipe: DetectionPipeline, events: np.ndarray, t: int):
    pipe.reset()
    t0 = t - pipe.input.window_us
    sel = events[(events["t"] >= t0) & (events["t"] < t)]
    return pipe.step(sel, t0, int(t)).output


def test_the_manifest_proves_the_weights():
    _, manifest = load_weights(WEIGHTS, task="detect")
    assert manifest["classes"] == ["car", "pedestrian"]
    for split in ("val", "test"):
        assert 0 < manifest["metrics"][split]["map50"] <= 1
    assert manifest["command"].startswith("spikesight train detect")


def demo_recall(demo) -> dict[int, tuple[int, int]]:
    """``{class: (ground-truth boxes matched at IoU 0.5 by a detection of that class, boxes)}``."""
    events, boxes = demo
    pipe = DetectionPipeline(WEIGHTS, spike_driven=False, monitor=False, threads=1)
    found = {0: [0, 0], 1: [0, 0]}
    for t in label_times(boxes):
        gt = boxes[boxes["t"] == t]
        det = run_at(pipe, events, t)
        for g in gt:
            c = int(g["class_id"])
            same = det.labels == c
            hit = same.any() and box_iou(xyxy(g[None])[0], det.boxes[same]).max() >= 0.5
            found[c][0] += int(hit)
            found[c][1] += 1
    return {c: (h, n) for c, (h, n) in found.items()}


@pytest.fixture(scope="module")
def recall(demo):
    return demo_recall(demo)


def test_most_ground_truth_boxes_of_the_demo_are_found(recall):
    total = sum(h for h, _ in recall.values()) / sum(n for _, n in recall.values())
    assert total > 0.5, recall
    hit, n = recall[0]
    assert n >= 10 and hit / n > 0.5, recall


@pytest.mark.xfail(strict=True, reason="known defect: the shipped tiny model finds almost no pedestrians "
                                       "(test AP50 < 0.02); see the README's detection section")
def test_pedestrians_of_the_demo_are_found(recall):
    hit, n = recall[1]
    assert n >= 5 and hit / n > 0.3, recall


def test_spike_driven_mode_gives_the_integer_modes_detections(demo):
    events, boxes = demo
    integer = DetectionPipeline(WEIGHTS, spike_driven=False, monitor=False, threads=1)
    binary = DetectionPipeline(WEIGHTS, spike_driven=True, monitor=False, threads=1)
    n = 0
    for t in label_times(boxes, every=20)[:3]:
        a, b = run_at(integer, events, t), run_at(binary, events, t)
        assert len(a) == len(b)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-2)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        n += len(a)
    assert n > 0


@pytest.mark.parametrize("weights", ["detect_tiny", "detect_tiny_full"])
def test_both_modes_are_the_same_network_in_exact_arithmetic(demo, weights):
    """In float64 the D binary virtual steps give exactly the integer mode's head outputs. (In float32
    the two modes sum in different orders, and a membrane that lands on a rounding tie can flip one
    integer: seen on detect_tiny_full, where a window's box moved by a few pixels.)"""
    events, boxes = demo
    pipe = DetectionPipeline(weights, spike_driven=False, monitor=False, threads=1)
    model = pipe.model.double()
    for t in label_times(boxes, every=40)[:2]:
        sel = events[(events["t"] >= t - pipe.input.window_us) & (events["t"] < t)]
        x = pipe.input(sel, int(t)).unsqueeze(1).double()
        outs = []
        for spike_driven in (False, True):
            model.spike_driven = spike_driven
            reset_net(model)
            with torch.no_grad():
                outs.append(model(x))
        for a, b in zip(*outs, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
