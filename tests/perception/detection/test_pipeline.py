"""DetectionPipeline: weights and manifest in, detections in sensor pixels out, state kept or reset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from spikesight.io import make_events
from spikesight.io.bbox import BBOX_DTYPE, read_boxes, write_boxes
from spikesight.perception.detection import DetectorConfig, SpikeYOLO
from spikesight.perception.detection.inputs import DetectionInput
from spikesight.perception.detection.pipeline import DetectionPipeline, results_to_boxes
from spikesight.perception.detection.postprocess import postprocess
from spikesight.perception.pipelines import Pipeline
from spikesight.perception.results import Detections, Result
from spikesight.perception.weights import WeightsError, save_weights

from .test_model import randomise_bn

CLASSES = ["car", "pedestrian"]
SENSOR = (128, 96)


@pytest.fixture(autouse=True)
def one_thread():
    """The pipelines here run on one torch thread (two contend badly on a busy 2-core machine)."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def tiny_model(seed: int = 0) -> SpikeYOLO:
    """A random tiny SpikeYOLO that fires and finds boxes: random BN statistics, class logits around
    0 (scores near 0.5) and box logits that favour short distances (boxes of a few cells)."""
    torch.manual_seed(seed)
    model = SpikeYOLO(DetectorConfig(scale="tiny", num_classes=len(CLASSES)))
    randomise_bn(model, seed)
    for cls, box in zip(model.head.cls, model.head.box, strict=True):
        nn.init.zeros_(cls[-1].conv.layer.bias)
        box[-1].conv.layer.bias.data.copy_(-0.7 * torch.arange(16.0).repeat(4))
    return model.eval()


def save_tiny(tmp_path, name: str = "det", scale: float = 0.5, window_us: int = 20_000, **extra):
    """Save a tiny model with a manifest shaped like a trained one's; return the .pt path."""
    model = tiny_model()
    spec = DetectionInput.for_sensor(*SENSOR, scale=scale, steps=2, window_us=window_us)
    manifest = {"task": "detect", "config": dataclasses.asdict(model.cfg), "classes": CLASSES,
                "input": spec.to_dict(), "representation": spec.representation, "conf": 0.5, "iou": 0.7,
                **extra}
    return save_weights(model.state_dict(), manifest, tmp_path / f"{name}.pt")


def scene(t0: int, t1: int, n: int = 3000, seed: int = 0, size: tuple[int, int] = SENSOR) -> np.ndarray:
    """Random events of ``[t0, t1)``, half of them in a square (an "object")."""
    rng = np.random.default_rng(seed)
    w, h = size
    x, y = rng.integers(0, w, n), rng.integers(0, h, n)
    k = n // 2
    x[:k] = rng.integers(w // 4, w // 2, k)
    y[:k] = rng.integers(h // 4, h // 2, k)
    return make_events(x, y, rng.integers(0, 2, n), np.sort(rng.integers(t0, t1, n)))


def same_detections(a: Detections, b: Detections, tol: float = 1e-4) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.scores, b.scores, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.boxes, b.boxes, rtol=tol, atol=tol * 100)


def spike_counts(r: Result) -> list[int]:
    return [layer.spike_count for layer in r.layers]


def test_a_step_decodes_the_model_output_into_sensor_pixels(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1)
    assert isinstance(pipe, Pipeline) and pipe.task == "detection"
    assert pipe.classes == tuple(CLASSES) and pipe.sensor_size == SENSOR
    events = scene(0, 20_000)
    r = pipe.step(events, 0, 20_000)
    assert (r.task, r.t_start, r.t_end) == ("detection", 0, 20_000)
    det = r.output
    assert isinstance(det, Detections) and len(det) > 3 and det.class_names == tuple(CLASSES)
    assert (det.scores > 0.5).all()
    # by hand: the model on the input (64x64: the 128x96 sensor scaled by 1/2 and 2/3), boxes in
    # model pixels, then scaled to the sensor and clipped to it
    model = tiny_model()
    spec = pipe.input
    assert (spec.width, spec.height) == (64, 64)
    with torch.no_grad():
        out = model(spec(events, 20_000).unsqueeze(1))
    ref = postprocess(out, model.strides, 16, 0.5, 0.7, 100)[0]
    expected = np.clip(ref.boxes * np.array([2.0, 1.5, 2.0, 1.5]), 0, np.array([128, 96, 128, 96]))
    same_detections(det, Detections(expected.astype(np.float32), ref.scores, ref.labels))
    assert det.boxes[:, 2].max() > 64  # beyond the model's width: really in sensor pixels
    assert (det.boxes[:, [0, 2]] <= 128).all() and (det.boxes[:, [1, 3]] <= 96).all()
    assert r.latency_s > 0


def test_spikes_and_energy_are_recorded_per_layer(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, max_neurons=16)
    r = pipe.step(scene(0, 20_000), 0, 20_000)
    names = [layer.name for layer in r.layers]
    assert len(names) == len(set(names)) > 10 and {"stage1.0.sep.dw.lif", "head.box.0.0.lif"} <= set(names)
    assert all(layer.steps == 2 and layer.raster.shape == (2, min(16, layer.neurons)) for layer in r.layers)
    assert sum(spike_counts(r)) > 0
    e = r.energy
    assert e is not None and e.timesteps == 2 and e.sops > 0 and e.mac_ops > 0
    assert 0 < e.snn_energy_j < e.ann_energy_j * 2  # plausible: SOPs are cheaper than MACs
    quiet = DetectionPipeline(save_tiny(tmp_path, "det2"), threads=1, monitor=False)
    quiet = quiet.step(scene(0, 20_000), 0, 20_000)
    assert quiet.layers == [] and quiet.energy is None
    same_detections(quiet.output, r.output, tol=0)


def test_spike_driven_and_integer_modes_find_the_same_boxes(tmp_path):
    path = save_tiny(tmp_path)
    driven = DetectionPipeline(path, spike_driven=True, threads=1)
    integer = DetectionPipeline(path, spike_driven=False, threads=1)
    assert driven.spike_driven and not integer.spike_driven
    assert not DetectionPipeline(path, threads=1).spike_driven  # integers by default on a CPU
    for k in range(2):
        t0 = k * 20_000
        events = scene(t0, t0 + 20_000, seed=k)
        a, b = driven.step(events, t0, t0 + 20_000), integer.step(events, t0, t0 + 20_000)
        assert len(a.output) > 3
        same_detections(a.output, b.output)
        assert spike_counts(a) == spike_counts(b)  # the binary spikes add up to the integers
        assert a.energy.sops == pytest.approx(b.energy.sops, rel=1e-6)


def test_membranes_carry_over_between_windows_and_reset_clears_them(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, reset_each_window=False)
    assert pipe.window_us == 20_000 and not pipe.reset_each_window
    w1, w2 = scene(0, 20_000, seed=1), scene(20_000, 40_000, seed=2)
    first = pipe.step(w1, 0, 20_000)
    second = pipe.step(w2, 20_000, 40_000)
    pipe.reset()
    fresh = pipe.step(w2, 20_000, 40_000)
    assert spike_counts(second) != spike_counts(fresh)
    assert not np.allclose(second.output.scores[:3], fresh.output.scores[:3])
    pipe.reset()
    again = pipe.step(w1, 0, 20_000)
    same_detections(again.output, first.output, tol=0)
    assert spike_counts(again) == spike_counts(first)


def test_time_going_back_starts_a_new_stream(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, reset_each_window=False)
    w1, w2 = scene(0, 20_000, seed=1), scene(20_000, 40_000, seed=2)
    first = pipe.step(w1, 0, 20_000)
    pipe.step(w2, 20_000, 40_000)
    looped = pipe.step(w1, 0, 20_000)  # a loop back to the start
    same_detections(looped.output, first.output, tol=0)
    assert spike_counts(looped) == spike_counts(first)


def test_short_slices_fill_the_input_window(tmp_path):
    # steps of 5 ms, input window of 20 ms: each step sees the last 20 ms, from rest (the default
    # when windows overlap, as in training)
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, step_us=5_000)
    assert pipe.window_us == 5_000 and pipe.reset_each_window
    events = scene(0, 40_000, n=6000, seed=3)
    cuts = np.searchsorted(events["t"], np.arange(0, 40_001, 5_000))
    for k in range(8):
        r = pipe.step(events[cuts[k]:cuts[k + 1]], 5_000 * k, 5_000 * (k + 1))
    whole = DetectionPipeline(save_tiny(tmp_path, "det2"), threads=1).step(events, 0, 40_000)
    assert len(r.output) > 0
    same_detections(r.output, whole.output, tol=0)
    assert spike_counts(r) == spike_counts(whole)


def test_skipped_slices_still_fill_the_input_window(tmp_path):
    # a real-time player drops windows 1-6 (skip: buffered, not computed); the last step's input
    # still holds their events, so it detects exactly what stepping every window detects
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, step_us=5_000)
    stepped = DetectionPipeline(save_tiny(tmp_path, "det2"), threads=1, step_us=5_000)
    events = scene(0, 40_000, n=6000, seed=3)
    cuts = np.searchsorted(events["t"], np.arange(0, 40_001, 5_000))
    pipe.step(events[:cuts[1]], 0, 5_000)
    for k in range(1, 7):
        pipe.skip(events[cuts[k]:cuts[k + 1]], 5_000 * k, 5_000 * (k + 1))
    for k in range(8):
        want = stepped.step(events[cuts[k]:cuts[k + 1]], 5_000 * k, 5_000 * (k + 1))
    got = pipe.step(events[cuts[7]:], 35_000, 40_000)
    assert len(got.output) > 0
    same_detections(got.output, want.output, tol=0)
    assert spike_counts(got) == spike_counts(want)
    gappy = DetectionPipeline(save_tiny(tmp_path, "det3"), threads=1, step_us=5_000)
    gappy.step(events[:cuts[1]], 0, 5_000)
    assert spike_counts(gappy.step(events[cuts[7]:], 35_000, 40_000)) != spike_counts(want)  # without skip
    with pytest.raises(ValueError, match="before it starts"):
        pipe.skip(events[:0], 50_000, 45_000)


def test_manifest_defaults_and_overrides(tmp_path):
    path = save_tiny(tmp_path, window_us=250_000, reset_each_window=False)
    pipe = DetectionPipeline(path, threads=1)
    assert pipe.window_us == 50_000  # the label period, under the 250 ms input window
    assert not pipe.reset_each_window  # the manifest's word over the overlap rule
    assert (pipe.conf, pipe.iou) == (0.5, 0.7)
    pipe = DetectionPipeline(path, conf=0.9, iou=0.3, threads=1, reset_each_window=True)
    assert (pipe.conf, pipe.iou, pipe.reset_each_window) == (0.9, 0.3, True)
    no_overlap = DetectionPipeline(save_tiny(tmp_path, "det2"), threads=1)  # 20 ms steps of a 20 ms window
    assert not no_overlap.reset_each_window
    with pytest.raises(ValueError, match="conf"):
        DetectionPipeline(path, conf=1.5)


def test_events_off_the_sensor_are_refused(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1)
    events = scene(0, 20_000, size=(160, 96))
    with pytest.raises(ValueError, match=r"outside the 128x96 sensor .*x=1\d\d"):
        pipe.step(events, 0, 20_000)
    with pytest.raises(ValueError, match="end before"):
        pipe.step(scene(0, 20_000), 20_000, 0)


def test_bad_weights_are_refused_clearly(tmp_path):
    with pytest.raises(WeightsError, match="no such weights"):
        DetectionPipeline(tmp_path / "missing.pt")
    model = tiny_model()
    spec = DetectionInput.for_sensor(*SENSOR, scale=0.5, steps=2, window_us=20_000).to_dict()
    good = {"task": "detect", "config": dataclasses.asdict(model.cfg), "classes": CLASSES, "input": spec}
    cases = {
        "gesture": (dict(good, task="gesture"), "not 'detect'"),
        "classes": (dict(good, classes=["car"]), "1 class names for a model of 2"),
        "config": (dict(good, config={"scale": "huge"}), "bad manifest"),
        "input": (dict(good, input=dict(spec, colour=True)), "bad manifest"),
        "channels": (dict(good, input=dict(spec, representation="histogram")), "2 channels"),
        "shape": (dict(good, config=dict(good["config"], scale="mini")), "do not fit"),
        "noinput": ({k: v for k, v in good.items() if k != "input"}, "no 'input'"),
    }
    for name, (manifest, message) in cases.items():
        path = save_weights(model.state_dict(), manifest, tmp_path / f"{name}.pt")
        with pytest.raises(WeightsError, match=message):
            DetectionPipeline(path)
    path = save_weights(model.state_dict(), good, tmp_path / "damaged.pt")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(WeightsError, match="sha256"):
        DetectionPipeline(path)


def test_results_become_gen1_boxes_that_the_label_reader_reads(tmp_path):
    det = Detections(np.array([[10, 20, 40, 60], [0.5, 1.5, 2.5, 3.5]], np.float32),
                     np.array([0.9, 0.4], np.float32), np.array([1, 0]), tuple(CLASSES))
    results = [
        Result("detection", 0, 50_000, det),
        Result("detection", 50_000, 100_000, Detections.empty(tuple(CLASSES))),
        Result("detection", 100_000, 150_000, Detections(det.boxes[:1], det.scores[:1], det.labels[:1])),
    ]
    boxes = results_to_boxes(results)
    assert boxes.dtype == BBOX_DTYPE
    assert boxes["t"].tolist() == [50_000, 50_000, 150_000]
    assert boxes[["x", "y", "w", "h"]].tolist() == [(10, 20, 30, 40), (0.5, 1.5, 2, 2), (10, 20, 30, 40)]
    assert boxes["class_id"].tolist() == [1, 0, 1] and boxes["track_id"].tolist() == [0, 0, 0]
    np.testing.assert_allclose(boxes["class_confidence"], [0.9, 0.4, 0.9])
    write_boxes(tmp_path / "preds.npy", boxes, "metavision")
    back = read_boxes(tmp_path / "preds.npy")
    np.testing.assert_array_equal(back, boxes)
    assert results_to_boxes([]).dtype == BBOX_DTYPE and len(results_to_boxes([])) == 0
    with pytest.raises(TypeError, match="no detections"):
        results_to_boxes([Result("depth", 0, 1, det.boxes)])



def test_another_camera_is_fitted_into_the_same_model_input(tmp_path):
    pipe = DetectionPipeline(save_tiny(tmp_path), threads=1, conf=0.01)
    big = (SENSOR[0] * 2, SENSOR[1] * 2)
    with pytest.raises(ValueError, match="outside"):
        pipe.step(scene(0, 20_000, size=big), 0, 20_000)
    pipe.set_sensor(*big)
    assert pipe.sensor_size == big
    assert (pipe.input.width, pipe.input.height) == (64, 64)
    r = pipe.step(scene(0, 20_000, size=big), 0, 20_000)
    # boxes come back in the big camera's pixels: within it, and beyond the small one
    boxes = r.output.boxes
    assert len(boxes) > 0 and boxes[:, 2].max() > SENSOR[0]
    assert (boxes[:, [0, 2]] <= big[0]).all() and (boxes[:, [1, 3]] <= big[1]).all()
