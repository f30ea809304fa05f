"""Accumulated frames at a constant event-time rate, and the frame colouring."""

import numpy as np
import pytest

from spikesight.io import make_events
from spikesight.io.memory import ArraySource
from spikesight.io.timeparse import parse_time_us
from spikesight.io.video import PALETTES, FrameClock, accumulated_frames, render_frame


def test_render_frame_latest_event_wins():
    ev = make_events([0, 0, 2], [0, 0, 1], [1, 0, 1], [1, 2, 3])
    img = render_frame(ev, 3, 2, "gray")
    bg, on, off = PALETTES["gray"]
    assert tuple(img[0, 0]) == off  # the OFF event at t=2 came after the ON at t=1
    assert tuple(img[1, 2]) == on
    assert tuple(img[0, 1]) == bg


@pytest.mark.parametrize("acc", [10_000, 33_333, 100_000])
def test_accumulated_frames_match_reference(acc, rng):
    t = np.sort(rng.integers(0, 1_000_000, 5000))
    ev = make_events(rng.integers(0, 8, 5000), rng.integers(0, 6, 5000), rng.integers(0, 2, 5000), t)
    clock = FrameClock(fps=30, accumulation=acc)
    frames = list(accumulated_frames(ArraySource(ev, 8, 6), clock))
    start = int(t[0])
    for k, (t_end, got) in enumerate(frames):
        assert t_end == start + (k + 1) * clock.period
        want = ev[(ev["t"] >= t_end - acc) & (ev["t"] < t_end)]
        np.testing.assert_array_equal(got, want)
    assert frames[-1][0] > t[-1]


def test_frames_keep_coming_through_gaps():
    ev = make_events([0, 1], [0, 0], [1, 1], [0, 1_000_000])
    frames = list(accumulated_frames(ArraySource(ev, 2, 1), FrameClock(fps=10, accumulation=100_000)))
    assert len(frames) == 11
    assert [len(f) for _, f in frames] == [1] + [0] * 9 + [1]


@pytest.mark.parametrize(
    ("text", "us"), [("42", 42), ("42us", 42), ("2.5ms", 2500), ("1.5s", 1_500_000), (7, 7)]
)
def test_parse_time(text, us):
    assert parse_time_us(text) == us


def test_parse_time_rejects_garbage():
    with pytest.raises(ValueError, match="not a time"):
        parse_time_us("soon")
