"""Gesture scenes: the arm model, where each gesture moves, and the DVS128 Gesture files."""

import math

import numpy as np
import pytest

from spikesight.io.aedat import AedatReader
from spikesight.io.emulator import EmulatorConfig
from spikesight.io.sim.gesture import GESTURE_CLASSES, GestureScene, Subject, _ik
from spikesight.io.sim.recordings import write_gesture
from spikesight.io.sim.runner import run


@pytest.mark.parametrize("target", [(30.0, 70.0), (10.0, 40.0), (60.0, 10.0)])
@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_two_link_arm_reaches_its_target(target, side):
    s = (40.0, 40.0)
    ex, ey = _ik(*s, *target, 25.0, 22.0, side)
    assert math.hypot(ex - s[0], ey - s[1]) == pytest.approx(25.0)
    assert math.hypot(target[0] - ex, target[1] - ey) == pytest.approx(22.0)


def _events(gesture, seed=2, seconds=1.0):
    rng = np.random.default_rng(seed)
    scene = GestureScene(Subject.random(rng), rng, [(0, 10_000_000, gesture)])
    cfg = EmulatorConfig(shot_noise_hz=0.0, seed=1)
    return np.concatenate([fr.events for fr in run(scene, seconds, 200.0, cfg)]), scene


@pytest.mark.parametrize("gesture,side", [(2, -1), (3, 1), (4, -1), (5, -1), (6, 1), (7, 1)])
def test_one_arm_gestures_move_that_side(gesture, side):
    ev, scene = _events(gesture)
    assert len(ev) > 500
    left = np.mean(ev["x"] < scene.s.cx)  # the subject's right arm is on the image's left
    assert (left > 0.85) if side < 0 else (left < 0.15)


@pytest.mark.parametrize("gesture", [1, 8, 9])
def test_two_arm_gestures_move_both_sides(gesture):
    ev, scene = _events(gesture)
    left = np.mean(ev["x"] < scene.s.cx)
    assert 0.25 < left < 0.75


@pytest.mark.parametrize("gesture,direction", [(4, 1), (5, -1), (6, 1), (7, -1)])
def test_circles_turn_clockwise_on_screen_or_not(gesture, direction):
    rng = np.random.default_rng(0)
    scene = GestureScene(Subject.random(rng), rng)
    scene.perform(gesture)
    s = scene.s
    side, k = (-1.0, 0) if gesture in (4, 5) else (1.0, 1)
    shoulders = [(s.cx - s.shoulder_half, 50.0), (s.cx + s.shoulder_half, 50.0)]
    arm = s.upper + s.fore
    centre = (shoulders[k][0] + side * 0.5 * arm, 50.0 - 0.05 * arm)
    angles = []
    for _ in range(10):
        scene.advance(0.02)
        hand = scene._hands(*shoulders)[k]
        assert math.hypot(hand[0] - centre[0], hand[1] - centre[1]) == pytest.approx(0.38 * arm * s.amplitude)
        angles.append(math.atan2(hand[1] - centre[1], hand[0] - centre[0]))
    # image y points down: a growing atan2 angle turns clockwise as seen on the screen
    assert np.all(np.sign(np.diff(np.unwrap(angles))) == direction)


def test_gesture_recording_files(tmp_path):
    emu = EmulatorConfig(shot_noise_hz=0.1, seed=5)
    info = write_gesture(
        tmp_path / "user01_led", 3, [9, 2], emulator=emu, gesture_seconds=(0.3, 0.4), rest_seconds=(0.1, 0.2)
    )
    lines = (tmp_path / "user01_led_labels.csv").read_text().splitlines()
    assert lines[0] == "class,startTime_usec,endTime_usec"
    rows = [tuple(map(int, ln.split(","))) for ln in lines[1:]]
    assert [r[0] for r in rows] == [9, 2]
    assert all(0 < a < b for _, a, b in rows) and rows[0][2] < rows[1][1]
    assert all(300_000 <= b - a <= 400_000 for _, a, b in rows)
    with AedatReader(info["events"]) as src:
        assert (src.info.width, src.info.height) == (128, 128)
        got = np.concatenate(list(src))
    assert len(got) == info["event_count"] > 100
    assert got["t"][-1] <= info["duration"] * 1e6
    during = [np.count_nonzero((got["t"] >= a) & (got["t"] < b)) / (b - a) for _, a, b in rows]
    rest = np.count_nonzero(got["t"] < rows[0][1]) / rows[0][1]
    assert min(during) > 3 * rest  # the gestures, not the rests, make the events


def test_class_names():
    assert len(GESTURE_CLASSES) == 11
    assert GESTURE_CLASSES[0] == "hand_clapping" and GESTURE_CLASSES[10] == "other_gestures"
