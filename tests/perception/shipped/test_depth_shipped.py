"""The shipped depth network on a street it never saw: a 1.5 s simulated scene in MVSEC's layout,
run through `spikesight depth`, compared with the scene's true depth."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from spikesight.cli import main
from spikesight.io.sim.recordings import write_depth
from spikesight.perception.depth.metrics import DepthMetrics
from spikesight.perception.weights import load_weights


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_depth(tmp_path_factory.mktemp("depth") / "sim_depth_99", 990_002, 1.5)


def test_the_manifest_proves_the_weights():
    _, manifest = load_weights("depth_tiny", task="depth")
    assert (manifest["config"]["max_depth"], manifest["config"]["alpha"]) == (80.0, 3.7)
    test = manifest["metrics"]["test"]
    assert 0 < test["mae_30"] < 5 and 0 < test["delta1"] <= 1
    assert "ann_twin" in manifest and manifest["ann_twin"]["metrics"]["test"]["mae_30"] > 0


def test_metric_depth_of_an_unseen_street(scene, tmp_path):
    out = tmp_path / "depth.npz"
    assert main(["depth", scene["events"], "--out", str(out), "-q"]) == 0
    z = np.load(out)
    t, pred = z["t"], z["depth"]
    assert t.dtype == np.int64 and pred.dtype == np.float32 and pred.shape[1:] == (260, 346)
    with h5py.File(scene["ground_truth"]) as h:
        gt = h["davis/left/depth_image_raw"][:]
        gt_us = np.round(h["davis/left/depth_image_raw_ts"][:] * 1e6).astype(np.int64)
    metrics, ranks = DepthMetrics(), []
    for i, ti in enumerate(t):
        j = int(np.argmin(np.abs(gt_us - ti)))
        if abs(gt_us[j] - ti) > 2_000 or i == 0:
            continue
        metrics.update(pred[i], gt[j])
        ok = np.isfinite(gt[j]) & np.isfinite(pred[i]) & (gt[j] < 30)
        a, b = np.argsort(np.argsort(pred[i][ok])), np.argsort(np.argsort(gt[j][ok]))
        ranks.append(np.corrcoef(a, b)[0, 1])
    m = metrics.compute()
    assert m["frames"] >= 20
    assert m["mae_30"] < 3.0 and m["delta1"] > 0.5, m
    assert np.mean(ranks) > 0.8  # near things near: the predicted order of depths follows the truth
