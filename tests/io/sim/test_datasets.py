"""Whole datasets through the ``spikesight simulate`` command: layout, splits, READMEs."""

import argparse

import numpy as np
import pytest

from spikesight.io import read_events
from spikesight.io.bbox import read_boxes
from spikesight.io.sim.cli import add_simulate_parser
from spikesight.io.sim.datasets import emulator_for, recording_seed, split_names


def _simulate(*argv):
    p = argparse.ArgumentParser()
    add_simulate_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["simulate", *argv, "-q"])
    return args.func(args)


def test_split_names():
    assert split_names(3) == ["train", "val", "test"]
    assert split_names(10) == ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    assert split_names(20) == ["train"] * 14 + ["val"] * 3 + ["test"] * 3
    with pytest.raises(ValueError):
        split_names(2)


def test_recording_settings_come_from_the_seed():
    assert recording_seed(3, 0) == recording_seed(3, 0) != recording_seed(3, 1)
    a, b = emulator_for(11), emulator_for(11)
    assert a == b and 0.18 <= a.threshold_off <= 0.3 and a.seed == 11


def test_detection_dataset(tmp_path):
    out = tmp_path / "det"
    assert _simulate("detection", str(out), "--duration", "0.3", "--seed", "4") == 0
    for split, k in (("train", 0), ("val", 1), ("test", 2)):
        ev = read_events(out / split / f"sim_street_{k:03d}_td.dat")
        assert len(ev) and ev["t"].max() <= 100_000
        boxes = read_boxes(out / split / f"sim_street_{k:03d}_bbox.npy")
        assert set(boxes["t"].tolist()) <= {50_000, 100_000}
    readme = (out / "README.md").read_text()
    assert "spikesight simulate detection" in readme and "--seed 4" in readme
    assert "| train | sim_street_000 |" in readme and "(preview.png)" in readme
    assert "--pedestrians" not in readme and "Pedestrian density" not in readme
    assert (out / "preview.png").stat().st_size > 1000


def test_detection_dataset_records_its_pedestrian_rate(tmp_path):
    out = tmp_path / "det"
    assert _simulate("detection", str(out), "--duration", "0.15", "--seed", "4", "--pedestrians", "2.5") == 0
    readme = (out / "README.md").read_text()
    assert "spikesight simulate detection" in readme and "--pedestrians 2.5 --seed 4" in readme
    assert "**Pedestrian density**" in readme and "2.5 times" in readme


@pytest.mark.parametrize("value", ["0", "-2", "nan", "many"])
def test_detection_dataset_refuses_a_bad_pedestrian_rate(tmp_path, value, capsys):
    with pytest.raises(SystemExit):
        _simulate("detection", str(tmp_path / "det"), "--pedestrians", value)
    assert "--pedestrians" in capsys.readouterr().err
    from spikesight.io.sim.datasets import detection_dataset

    with pytest.raises(ValueError, match="pedestrian_rate"):
        detection_dataset(tmp_path / "det", 0.15, 4, pedestrian_rate=0.0)
    assert not (tmp_path / "det").exists()


def test_depth_dataset(tmp_path):
    out = tmp_path / "depth"
    assert _simulate("depth", str(out), "--duration", "0.3", "--seed", "4") == 0
    for split, k in (("train", 0), ("val", 1), ("test", 2)):
        assert (out / split / f"sim_depth_{k:03d}_gt.hdf5").exists()
        assert len(read_events(out / split / f"sim_depth_{k:03d}_data.hdf5"))
    assert "MVSEC" in (out / "README.md").read_text()


def test_gesture_dataset_is_balanced(tmp_path):
    out = tmp_path / "gest"
    from spikesight.io.sim.datasets import gesture_dataset

    results = gesture_dataset(out, 22, seed=1, gesture_seconds=(0.3, 0.4))
    labels = []
    for r in results:
        rows = (out / f"{r['name']}_labels.csv").read_text().splitlines()[1:]
        labels += [int(row.split(",")[0]) for row in rows]
    assert np.bincount(labels, minlength=12)[1:].tolist() == [2] * 11
    listed = [(out / f"trials_to_{s}.txt").read_text().split() for s in ("train", "val", "test")]
    assert sorted(n for names in listed for n in names) == sorted(r["name"] + ".aedat" for r in results)
    assert all(len(x) >= 1 for x in listed)
    mapping = (out / "gesture_mapping.csv").read_text().splitlines()
    assert mapping[1] == "hand_clapping,1" and mapping[11] == "other_gestures,11"
    assert "Samples per class" in (out / "README.md").read_text()
