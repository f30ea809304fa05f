"""DepthPipeline: built from weights + manifest alone, metric maps at sensor geometry, state kept, reset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from spikesight.io.events import make_events
from spikesight.perception.depth import DEPTH_CONFIGS, build_depth_model, log_to_depth
from spikesight.perception.depth.inputs import DepthInput
from spikesight.perception.depth.pipeline import DepthPipeline
from spikesight.perception.pipelines import Pipeline
from spikesight.perception.results import DepthMap, EnergyEstimate
from spikesight.perception.snn import reset_net
from spikesight.perception.weights import WeightsError, save_weights

W, H = 20, 12
TINY = replace(DEPTH_CONFIGS["tiny"], base_channels=4, steps=3, residual_blocks=1)
REP = DepthInput("multistep", steps=3, window_us=10_000, width=W, height=H)


def tiny_weights(tmp_path, config=TINY, representation=REP, task="depth"):
    torch.manual_seed(0)
    model = build_depth_model(config)
    with torch.no_grad():  # a livelier random net, so that spikes reach the deep layers
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.mul_(3.0)
    path = save_weights(model.state_dict(), {"task": task, "config": config.to_dict(),
                                             "input": representation.to_dict()}, tmp_path / "depth_test.pt")
    return path, model


def busy_events(t0: int, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n),
                       np.sort(rng.integers(t0, t0 + 10_000, n)))


def test_step_gives_metric_depth_at_sensor_geometry_with_spikes_and_energy(tmp_path):
    path, _ = tiny_weights(tmp_path)
    pipe = DepthPipeline(path)
    assert isinstance(pipe, Pipeline) and pipe.task == "depth" and pipe.window_us == 10_000
    r = pipe.step(busy_events(0), 0, 10_000)
    assert r.task == "depth" and (r.t_start, r.t_end) == (0, 10_000)
    assert isinstance(r.output, DepthMap) and r.output.max_depth == 80.0
    d = r.output.depth
    assert d.shape == (H, W) and d.dtype == np.float32 and np.isfinite(d).all()
    assert d.min() >= TINY.min_depth - 1e-4 and d.max() <= 80.0 + 1e-4
    assert r.layers and all(layer.steps == 3 for layer in r.layers)
    assert isinstance(r.energy, EnergyEstimate) and r.energy.snn_energy_j > 0
    assert r.latency_s > 0


def test_no_estimate_until_events_arrive(tmp_path):
    pipe = DepthPipeline(tiny_weights(tmp_path)[0])
    assert np.isnan(pipe.step(make_events([], [], [], []), 0, 10_000).output.depth).all()
    assert np.isfinite(pipe.step(busy_events(10_000), 10_000, 20_000).output.depth).all()
    pipe.reset()
    assert np.isnan(pipe.step(make_events([], [], [], []), 20_000, 30_000).output.depth).all()


def _direct(model, windows, reset_each: bool):
    """What the network gives on these windows when driven by hand (the reference)."""
    model.eval()
    reset_net(model)
    out = []
    with torch.no_grad():
        for ev, t0, t1 in windows:
            if reset_each:
                reset_net(model)
            y = REP.to_sensor(model(REP(ev, t0, t1).unsqueeze(1)))[0, 0]
            out.append(log_to_depth(y, TINY.max_depth, TINY.alpha).numpy())
    return out


def test_membrane_state_is_kept_between_windows_and_cleared_by_reset(tmp_path):
    path, model = tiny_weights(tmp_path)
    windows = [(busy_events(k * 10_000, seed=k), k * 10_000, (k + 1) * 10_000) for k in range(3)]
    streaming = DepthPipeline(path)
    got = [streaming.step(*w).output.depth for w in windows]
    carried, fresh = _direct(model, windows, False), _direct(model, windows, True)
    for a, b in zip(got, carried, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(carried[2], fresh[2])  # the state matters for this net
    streaming.reset()
    np.testing.assert_allclose(streaming.step(*windows[2]).output.depth, fresh[2], rtol=1e-5, atol=1e-5)
    per_window = DepthPipeline(path, streaming=False)
    for w, b in zip(windows, fresh, strict=True):
        np.testing.assert_allclose(per_window.step(*w).output.depth, b, rtol=1e-5, atol=1e-5)


def test_other_sensor_geometry_and_downscale(tmp_path):
    rep = replace(REP, downscale=2)
    path, _ = tiny_weights(tmp_path, representation=rep)
    pipe = DepthPipeline(path, sensor=(33, 17), monitor=False)
    ev = busy_events(0)
    r = pipe.step(ev, 0, 10_000)
    assert r.output.depth.shape == (17, 33) and r.layers == [] and r.energy is None


def test_weights_that_do_not_fit_are_refused(tmp_path):
    path, _ = tiny_weights(tmp_path, task="gesture")
    with pytest.raises(WeightsError, match="task 'gesture'"):
        DepthPipeline(path)
    (tmp_path / "b").mkdir()
    path, _ = tiny_weights(tmp_path / "b", representation=replace(REP, steps=4))
    with pytest.raises(WeightsError, match="T=3"):
        DepthPipeline(path)
    with pytest.raises(WeightsError, match="no such weights"):
        DepthPipeline(tmp_path / "missing.pt")


def test_set_sensor_takes_another_camera(tmp_path):
    path, _ = tiny_weights(tmp_path)
    pipe = DepthPipeline(path, monitor=False)
    pipe.set_sensor(40, 30)
    r = pipe.step(busy_events(0), 0, 10_000)
    assert r.output.depth.shape == (30, 40)
