"""The shipped gesture network on a subject it never saw: one recording of the 11 gestures made by
the simulator with a seed outside the training set, run through `spikesight gesture --labels`."""

from __future__ import annotations

import csv

import pytest

from spikesight.cli import main
from spikesight.io.sim.recordings import write_gesture
from spikesight.perception.weights import load_weights


@pytest.fixture(scope="module")
def new_subject(tmp_path_factory):
    stem = tmp_path_factory.mktemp("gesture") / "user99_lab"
    write_gesture(stem, 990_001, list(range(1, 12)), gesture_seconds=(1.6, 2.0), rest_seconds=(0.4, 0.6))
    return stem


def test_the_manifest_proves_the_weights():
    _, manifest = load_weights("gesture_small", task="gesture")
    assert [c["id"] for c in manifest["classes"]] == list(range(1, 12))
    assert manifest["classes"][0]["name"] == "hand_clapping"
    assert manifest["metrics"]["test"]["accuracy"] > 0.5
    assert manifest["command"].startswith("spikesight train gesture")


def test_most_gestures_of_an_unseen_subject_are_recognised(new_subject, tmp_path, capsys):
    out = tmp_path / "decisions.csv"
    rc = main(["gesture", f"{new_subject}.aedat", "--labels", f"{new_subject}_labels.csv", "--out", str(out),
               "-q"])
    assert rc == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"t_usec", "class", "confidence"}
    assert {int(r["class"]) for r in rows} <= set(range(1, 12))
    text = capsys.readouterr()
    summary = [line for line in (text.out + text.err).splitlines() if line.startswith("accuracy per segment")]
    right, total = summary[0].split(":")[1].split("=")[0].strip().split("/")
    assert int(total) == 11
    assert int(right) >= 7, summary  # chance is 1 in 11
