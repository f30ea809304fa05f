"""``spikesight gesture FILE``: CSV format, rows against the pipeline, accuracy per segment, bad input."""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from spikesight.io import EventFormatError, read_events
from spikesight.perception.data import GestureLabelsError
from spikesight.perception.gesture.cli import Decision, add_gesture_parser, score_segments
from spikesight.perception.gesture.pipeline import GesturePipeline
from spikesight.perception.weights import WeightsError

from .conftest import firing_network, save_tiny


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spikesight")
    add_gesture_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("w") / "tiny.pt", seed=1, prepare=firing_network)


@pytest.fixture(scope="module")
def recording(gesture_root) -> Path:
    return gesture_root / "user02_led.aedat"


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_csv_has_one_row_per_step_at_confidence_zero(weights, recording, tmp_path):
    out = tmp_path / "preds.csv"
    args = parse(["gesture", str(recording), "--weights", str(weights), "--out", str(out),
                  "--every", "40", "--confidence", "0", "-q"])
    assert args.func(args) == 0
    assert out.read_text().startswith("t_usec,class,confidence\n")
    header, rows = read_rows(out)
    assert header == ["t_usec", "class", "confidence"]
    ev = read_events(recording)
    first, last = int(ev["t"][0]), int(ev["t"][-1])
    steps = (last - first) // 40_000 + 1  # slices [first + k*40 ms, ...) up to the one holding the last event
    assert [int(r[0]) for r in rows] == [first + (k + 1) * 40_000 for k in range(steps)]
    assert all(1 <= int(r[1]) <= 11 for r in rows)
    assert all(re.fullmatch(r"[01]\.\d{4}", r[2]) and 0 < float(r[2]) <= 1 for r in rows)
    # the same as stepping the pipeline by hand over the same slices
    p = GesturePipeline(weights, confidence=0.0, every_ms=40, monitor=False)
    for k, row in enumerate(rows):
        a = first + k * 40_000
        out = p.step(ev[(ev["t"] >= a) & (ev["t"] < a + 40_000)], a, a + 40_000).output
        assert (int(row[1]), float(row[2])) == (out.decided_id, pytest.approx(out.confidence, abs=5e-5))


def test_confidence_filters_rows_and_stdout(weights, recording, tmp_path, capsys):
    args = parse(["gesture", str(recording), "--weights", str(weights), "--confidence", "0", "-q"])
    args.func(args)
    every = capsys.readouterr().out.splitlines()
    assert every[0] == "t_usec,class,confidence" and len(every) > 10
    top = max(float(line.split(",")[2]) for line in every[1:])
    threshold = (top + min(float(line.split(",")[2]) for line in every[1:])) / 2
    args = parse(["gesture", str(recording), "--weights", str(weights), "--confidence", str(threshold), "-q"])
    args.func(args)
    some = capsys.readouterr().out.splitlines()
    assert some[1:] == [line for line in every[1:] if float(line.split(",")[2]) >= threshold]
    assert 1 <= len(some) - 1 < len(every) - 1


def test_labels_accuracy_matches_the_rows(weights, recording, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    labels = recording.with_name("user02_led_labels.csv")
    args = parse(["gesture", str(recording), "--weights", str(weights), "--out", str(out),
                  "--labels", str(labels), "--confidence", "0", "--no-drop", "-q"])
    args.func(args)
    printed = capsys.readouterr().out
    _, rows = read_rows(out)
    _, segments = read_rows(labels)
    right = 0
    for cls, start, end in segments:
        inside = [int(r[1]) for r in rows if int(start) <= int(r[0]) < int(end)]
        counts = Counter(inside).most_common()
        if counts and counts[0][1] > (counts[1][1] if len(counts) > 1 else 0):
            right += counts[0][0] == int(cls)
        elif counts:  # a tie: the rule is the summed confidence; the checks below cover it by hand
            right += score_segments([Decision(int(r[0]), int(r[1]), float(r[2])) for r in rows],
                                    [(int(cls), int(start), int(end))])[0].right
    n = len(segments)
    assert f"accuracy per segment: {right}/{n} = {100 * right / n:.1f}%" in printed
    assert printed.count("\n") == n + 2  # header, one line per segment, the total


def test_score_segments_by_hand():
    decisions = [
        Decision(100, 3, 0.9), Decision(150, 4, 0.7), Decision(199, 3, 0.6), Decision(200, 4, 0.9),
        Decision(300, 5, 0.6), Decision(350, 6, 0.8),
        Decision(500, 2, 0.5), Decision(510, 1, 0.5),
    ]
    scores = score_segments(decisions, [(3, 100, 200), (5, 300, 400), (1, 500, 600), (7, 700, 800)])
    assert [(s.predicted, s.decisions, s.right) for s in scores] == [
        (3, 3, True),  # 3 votes to 1; the decision at t = 200 lies past the end
        (6, 2, False),  # one vote each: the larger confidence wins
        (1, 2, True),  # one vote each, same confidence: the smaller id
        (None, 0, False),  # no decision: wrong
    ]


def test_bad_input(weights, recording, tmp_path):
    args = parse(["gesture", str(tmp_path / "none.aedat"), "--weights", str(weights), "-q"])
    with pytest.raises(FileNotFoundError):
        args.func(args)
    bad = tmp_path / "bad.aedat"
    bad.write_bytes(b"#!AER-DAT3.1\r\n" + bytes(range(200)))
    args = parse(["gesture", str(bad), "--weights", str(weights), "-q"])
    with pytest.raises(EventFormatError):
        args.func(args)
    labels = tmp_path / "labels.csv"
    labels.write_text("class,start,end\n1,0,10\n")
    args = parse(["gesture", str(recording), "--weights", str(weights), "--labels", str(labels), "-q"])
    with pytest.raises(GestureLabelsError):
        args.func(args)
    args = parse(["gesture", str(recording), "--weights", str(tmp_path / "no.pt"), "-q"])
    with pytest.raises(WeightsError):
        args.func(args)
    with pytest.raises(SystemExit):
        parse(["gesture", str(recording), "--drop-fraction", "0.5", "--no-drop"])


def test_events_off_the_model_sensor_are_pooled_from_the_file_geometry(weights, tmp_path):
    from spikesight.io import make_events, open_writer

    rng = np.random.default_rng(0)
    n = 5000
    t = np.sort(rng.integers(0, 400_000, n))
    ev = make_events(rng.integers(0, 256, n), rng.integers(0, 256, n), rng.integers(0, 2, n), t)
    path = tmp_path / "big_td.dat"
    with open_writer(path, 256, 256) as w:
        w.write(ev)
    args = parse(["gesture", str(path), "--weights", str(weights), "--confidence", "0", "-q",
                  "--out", str(tmp_path / "p.csv")])
    assert args.func(args) == 0
    assert len(read_rows(tmp_path / "p.csv")[1]) == 8
