"""GesturePipeline: sliding window, frames by hand, dropped frames not computed, decisions, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesight.io import make_events
from spikesight.perception.gesture import GestureNet
from spikesight.perception.gesture.pipeline import GestureDecision, GesturePipeline
from spikesight.perception.pipelines import Pipeline
from spikesight.perception.results import GesturePrediction
from spikesight.perception.weights import WeightsError, save_weights

from .conftest import CHOSEN, TINY, firing_network, save_tiny
from .test_model import masked_reference

T, DT, SPAN = TINY.T, TINY.dt_us, TINY.T * TINY.dt_us


def random_events(t0: int, t1: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t1, n))
    # a blob in the middle of the sensor, so that pooled pixels collect many events
    x = np.clip(rng.normal(64, 20, n), 0, 127).astype(int)
    y = np.clip(rng.normal(64, 20, n), 0, 127).astype(int)
    return make_events(x, y, rng.integers(0, 2, n), t)


def frames_by_hand(events: np.ndarray, t_end: int) -> torch.Tensor:
    """Counts per (frame, polarity, y // 8, x // 8) of the events in the last T*DT before t_end."""
    out = torch.zeros(T, 2, 16, 16)
    t0 = t_end - SPAN
    for e in events:
        t = int(e["t"])
        if t0 <= t < t_end:
            out[(t - t0) // DT, int(e["p"]), int(e["y"]) // 8, int(e["x"]) // 8] += 1
    return out




@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("w") / "tiny.pt", prepare=firing_network, seed=3)


def test_is_a_pipeline_and_returns_a_decision(weights):
    p = GesturePipeline(weights, confidence=0.0)
    assert isinstance(p, Pipeline) and p.task == "gesture" and p.window_us == 50_000
    ev = random_events(0, SPAN, 3000, 1)
    r = p.step(ev, 0, SPAN)
    out = r.output
    assert isinstance(out, GestureDecision) and isinstance(out, GesturePrediction)
    assert out.probabilities.shape == (11,) and out.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert out.class_ids == tuple(range(1, 12)) and out.class_names[3] == "right_arm_clockwise"
    assert out.decided == int(np.argmax(out.probabilities)) and out.decided_id == out.decided + 1
    assert out.label == out.decided_label
    assert (r.task, r.t_start, r.t_end) == ("gesture", 0, SPAN) and r.latency_s > 0
    assert [layer.name for layer in r.layers] == [
        "conv_layers.0.neuron", "conv_layers.1.neuron", "conv_layers.2.neuron",
        "fc_layers.0.neuron", "fc_layers.1.neuron",
    ]
    assert all(layer.steps == T for layer in r.layers) and r.energy is not None and r.energy.snn_pj > 0


def test_dropped_frames_are_not_computed_and_match_the_masked_network(weights):
    p = GesturePipeline(weights, drop_threshold=0.5, confidence=0.0)
    ev = random_events(0, SPAN, 4000, 2)
    r = p.step(ev, 0, SPAN)
    out = r.output
    keep = np.isin(np.arange(T), CHOSEN)
    np.testing.assert_array_equal(out.kept, keep)
    np.testing.assert_array_equal(out.dropped, [t for t in range(T) if t not in CHOSEN])
    assert (out.frame_scores[keep] > 0.5).all() and (out.frame_scores[~keep] < 0.5).all()
    # the first convolution ran on the kept frames only: 4 channels x 16 x 16 outputs x 2 inputs x 9 taps each
    ops = p.monitor.last.ops["conv_layers.0.op.layer.0"]
    assert ops.macs == ops.real_macs == len(CHOSEN) * 4 * 16 * 16 * 2 * 9
    # kept frames pass weighted by their attention score, as in training
    x = frames_by_hand(ev, SPAN)[:, None] * torch.from_numpy(out.frame_scores).view(T, 1, 1, 1, 1)
    with torch.no_grad():
        ref, counts = masked_reference(p.model, x, torch.from_numpy(keep)[:, None])
    assert ref.sum() > 0  # the network did fire: the comparison means something
    expected = torch.softmax(p.logit_scale * ref[0], 0).numpy()
    np.testing.assert_allclose(out.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert [layer.spike_count for layer in r.layers] == counts
    # and dropping did change what the network computed: fewer input spikes than with every frame
    full = GesturePipeline(weights, dropping=False).step(ev, 0, SPAN)
    assert r.layers[0].spike_count < full.layers[0].spike_count


def test_kept_frames_with_weight_one_as_the_paper(weights):
    p = GesturePipeline(weights, drop_threshold=0.5, kept_weight="one", confidence=0.0)
    ev = random_events(0, SPAN, 4000, 2)
    r = p.step(ev, 0, SPAN)
    keep = torch.from_numpy(np.isin(np.arange(T), CHOSEN))[:, None]
    with torch.no_grad():
        ref, counts = masked_reference(p.model, frames_by_hand(ev, SPAN)[:, None], keep)
    np.testing.assert_allclose(r.output.probabilities, torch.softmax(10.0 * ref[0], 0).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert [layer.spike_count for layer in r.layers] == counts
    with pytest.raises(ValueError):
        GesturePipeline(weights, kept_weight="half")


def test_drop_fraction_keeps_the_highest_scores(weights):
    p = GesturePipeline(weights, drop_fraction=0.5, confidence=0.0)
    out = p.step(random_events(0, SPAN, 3000, 3), 0, SPAN).output
    assert out.kept.sum() == T // 2
    assert out.frame_scores[out.kept].min() >= out.frame_scores[~out.kept].max()
    assert p.dropping == "fraction"


def test_no_dropping_is_the_soft_attention_network(weights):
    p = GesturePipeline(weights, dropping=False, confidence=0.0)
    ev = random_events(0, SPAN, 3000, 4)
    out = p.step(ev, 0, SPAN).output
    assert out.kept.all() and p.dropping == "none"
    net = GestureNet(p.model.config).eval()
    net.load_state_dict(p.model.state_dict())
    with torch.no_grad():
        rates = net(frames_by_hand(ev, SPAN)[:, None])
    np.testing.assert_allclose(out.probabilities, torch.softmax(10.0 * rates[0], 0).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_default_threshold_comes_from_the_manifest(tmp_path):
    w = save_tiny(tmp_path / "a.pt", metrics={"val": {"drop_threshold": 0.25}})
    assert GesturePipeline(w).drop_threshold == 0.25
    w = save_tiny(tmp_path / "b.pt", drop_threshold=0.4, metrics={"val": {"drop_threshold": 0.25}})
    assert GesturePipeline(w).drop_threshold == 0.4
    assert GesturePipeline(w, drop_threshold=0.1).drop_threshold == 0.1
    assert GesturePipeline(w, dropping=False).dropping == "none"
    assert GesturePipeline(save_tiny(tmp_path / "c.pt")).dropping == "none"


def test_sliding_window_equals_one_step_over_the_window(weights):
    every = 30_000
    ev = random_events(0, 20 * every, 12_000, 5)
    stepped = GesturePipeline(weights, every_ms=every / 1000, confidence=0.0)
    for k in range(20):
        a, b = k * every, (k + 1) * every
        r = stepped.step(ev[(ev["t"] >= a) & (ev["t"] < b)], a, b)
    t_end = 20 * every
    recent = ev[ev["t"] >= t_end - SPAN]
    whole = GesturePipeline(weights, confidence=0.0).step(recent, t_end - SPAN, t_end)
    np.testing.assert_array_equal(r.output.probabilities, whole.output.probabilities)
    by_hand = np.bincount((recent["t"] - (t_end - SPAN)) // DT, minlength=T)
    np.testing.assert_array_equal(r.output.frame_events, by_hand)
    assert r.output.window_start == t_end - SPAN and r.output.dt_us == DT
    # old events leave the window: after a silent stretch longer than it, every frame is empty
    r = stepped.step(np.empty(0, ev.dtype), t_end, t_end + SPAN)
    assert r.output.frame_events.sum() == 0


def test_skipped_steps_still_fill_the_sliding_window(weights):
    every = 30_000
    ev = random_events(0, 20 * every, 12_000, 6)
    stepped = GesturePipeline(weights, every_ms=every / 1000, confidence=0.0)
    skipping = GesturePipeline(weights, every_ms=every / 1000, confidence=0.0)
    for k in range(20):
        a, b = k * every, (k + 1) * every
        part = ev[(ev["t"] >= a) & (ev["t"] < b)]
        want = stepped.step(part, a, b)
        if k < 19:
            skipping.skip(part, a, b)  # a real-time player dropped these steps
        else:
            got = skipping.step(part, a, b)
    np.testing.assert_array_equal(got.output.probabilities, want.output.probabilities)
    np.testing.assert_array_equal(got.output.frame_events, want.output.frame_events)
    with pytest.raises(ValueError, match="ends before it starts"):
        skipping.skip(ev[:0], 10, 5)


def test_reset_and_going_back_forget_the_buffer(weights):
    p = GesturePipeline(weights, confidence=0.0)
    ev = random_events(0, SPAN, 2000, 6)
    p.step(ev, 0, SPAN)
    p.reset()
    assert p.step(np.empty(0, ev.dtype), SPAN, SPAN + 10).output.frame_events.sum() == 0
    p.step(ev, 0, SPAN)
    r = p.step(ev[ev["t"] < 1000], 0, 1000)  # the stream jumped back (a seek)
    assert r.output.frame_events.sum() == (ev["t"] < 1000).sum()


def test_confidence_gates_the_decision(weights):
    ev = random_events(0, SPAN, 3000, 7)
    assert GesturePipeline(weights, confidence=1.0).step(ev, 0, SPAN).output.decided is None
    out = GesturePipeline(weights, confidence=0.0).step(ev, 0, SPAN).output
    assert out.decided is not None and out.confidence == out.probabilities.max()


def test_monitor_off_and_other_sensor_sizes(weights):
    p = GesturePipeline(weights, monitor=False, sensor_size=(256, 256), confidence=0.0)
    ev = random_events(0, SPAN, 2000, 8)
    big = ev.copy()
    big["x"] *= 2
    big["y"] *= 2
    r = p.step(big, 0, SPAN)
    assert r.layers == [] and r.energy is None
    same = GesturePipeline(weights, confidence=0.0).step(ev, 0, SPAN).output
    np.testing.assert_array_equal(r.output.probabilities, same.probabilities)


def test_bad_input(weights, tmp_path):
    p = GesturePipeline(weights)
    ev = random_events(0, SPAN, 100, 9)
    with pytest.raises(ValueError, match="sorted"):
        p.step(ev[::-1].copy(), 0, SPAN)
    off = ev.copy()
    off["x"][0] = 128
    with pytest.raises(ValueError, match="outside"):
        GesturePipeline(weights).step(off, 0, SPAN)
    with pytest.raises(ValueError):
        p.step(ev, SPAN, 0)
    with pytest.raises(ValueError):
        GesturePipeline(weights, drop_threshold=0.5, drop_fraction=0.5)
    with pytest.raises(ValueError):
        GesturePipeline(weights, confidence=1.5)
    with pytest.raises(WeightsError):
        GesturePipeline(tmp_path / "missing.pt")
    other = save_weights({}, {"task": "detect"}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="task"):
        GesturePipeline(other)
