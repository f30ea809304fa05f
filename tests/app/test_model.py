"""The Qt-free player model: validation, time arithmetic, actions and observation."""

import math

import pytest

from spikesight.app.evented import Signal
from spikesight.app.model import PANELS, SPEED_STEPS, PlayerModel


def file_model(**kw) -> PlayerModel:
    m = PlayerModel(**kw)
    m.set_stream("f.raw", 1_000_000, 3_000_000)
    return m


def test_signal_connect_emit_disconnect():
    s = Signal()
    got = []
    s.connect(got.append)
    s.connect(got.append)  # once only
    s.emit(1)
    s.disconnect(got.append)
    s.emit(2)
    assert got == [1]


def test_fields_emit_only_on_change_with_the_new_value():
    m = PlayerModel()
    seen, changed = [], []
    m.events.accumulation_us.connect(seen.append)
    m.events.changed.connect(lambda name, value: changed.append((name, value)))
    m.accumulation_us = 5000
    m.accumulation_us = 5000
    m.palette = "Light"
    assert seen == [5000]
    assert changed == [("accumulation_us", 5000), ("palette", "light")]


@pytest.mark.parametrize(("field", "value", "want"), [
    ("accumulation_us", 10, 1_000), ("accumulation_us", 5e6, 1_000_000), ("accumulation_us", 2500.4, 2500),
    ("speed", 1e-6, 1e-3), ("speed", 1e6, 1e3), ("display_fps", 0.1, 1.0), ("display_fps", 1000, 240.0),
    ("noise_filter_us", -5, 0),
])
def test_numbers_are_clamped(field, value, want):
    m = PlayerModel()
    setattr(m, field, value)
    assert getattr(m, field) == want


@pytest.mark.parametrize(("field", "value"), [
    ("palette", "rainbow"), ("decay", "cubic"), ("panels", {"nope"}), ("speed", 0), ("speed", -1),
    ("speed", math.nan), ("accumulation_us", math.nan),
])
def test_bad_values_raise_and_leave_the_field(field, value):
    m = PlayerModel()
    before = getattr(m, field)
    with pytest.raises(ValueError):
        setattr(m, field, value)
    assert getattr(m, field) == before


def test_render_rate_display_rate_and_slow_motion():
    m = PlayerModel(display_fps=25.0, speed=1.0)
    assert m.render_fps == 25.0 and m.period_us == 40_000
    m.set_render_fps(1000)  # Metavision's example: 1000 fps of event time shown at 25 fps
    assert m.slow_motion == pytest.approx(40.0)
    assert m.speed == pytest.approx(1 / 40)
    assert m.period_us == 1_000
    m.speed = 1e-3
    m.display_fps = 30
    assert m.period_us == 33  # 1/1000x at 30 fps: 33 µs of event time per frame
    m.speed = 1000
    assert m.period_us == 33_333_333


def test_faster_and_slower_walk_the_steps_and_reach_as_fast_as_possible():
    m = PlayerModel(speed=1.0)
    m.faster()
    assert m.speed == 2.0
    m.slower()
    m.slower()
    assert m.speed == 0.5
    m.speed = 1000
    m.faster()
    assert m.fastest and m.speed == 1000
    m.faster()
    assert m.fastest
    m.slower()
    assert not m.fastest and m.speed == 1000
    m.speed = 1e-3
    m.slower()
    assert m.speed == 1e-3
    m.speed = 3.0  # between steps
    m.faster()
    assert m.speed == 5.0
    assert list(SPEED_STEPS) == sorted(SPEED_STEPS)


def test_seek_clamps_emits_and_step_pauses():
    m = file_model(display_fps=30.0)
    seeks = []
    m.events.seek.connect(seeks.append)
    assert m.position == 1_000_000 + m.period_us
    m.seek(0)
    m.seek(10**12)
    assert seeks == [1_000_000, 3_000_001]
    assert m.at_end
    m.playing = True
    m.step(-1)
    assert not m.playing
    assert m.position == 3_000_001 - m.period_us
    m.step(2)
    assert m.position == 3_000_001  # clamped at the end


def test_play_at_the_end_starts_again():
    m = file_model()
    m.seek(m.last_frame_time)
    seeks = []
    m.events.seek.connect(seeks.append)
    m.play()
    assert m.playing and seeks == [m.first_frame_time]


def test_a_live_stream_cannot_seek():
    m = PlayerModel()
    m.set_stream("dv:", None, None, live=True)
    seeks = []
    m.events.seek.connect(seeks.append)
    m.seek(5)
    m.step(1)
    assert seeks == [] and not m.seekable


def test_panels_toggle():
    m = PlayerModel()
    assert m.panels == frozenset(PANELS)
    m.toggle_panel("depth")
    assert "depth" not in m.panels
    m.set_panel("depth", True)
    assert "depth" in m.panels
    m.toggle_loop()
    assert m.loop
    assert not m.every_window  # real time by default
    m.toggle_every_window()
    assert m.every_window


def test_settings_round_trip_through_strings_and_bad_values():
    m = PlayerModel(speed=0.1, palette="gray", loop=True, panels=frozenset({"info", "network"}),
                    every_window=True)
    saved = {k: str(v) if not isinstance(v, list) else ",".join(v) for k, v in m.settings().items()}
    n = PlayerModel()
    n.apply_settings(saved)
    assert n.settings() == m.settings()
    n.apply_settings({"palette": "nope", "speed": "fast", "decay": "linear", "unknown": 1})
    assert n.palette == "gray" and n.speed == 0.1 and n.decay == "linear"


def test_the_first_frame_of_a_very_short_stream_shows_all_of_it():
    m = PlayerModel(display_fps=30.0)
    m.set_stream("short.raw", 1_000, 8_000)  # 7 ms, shorter than a 33 ms frame period
    assert m.first_frame_time == m.position == 8_001 == m.last_frame_time
