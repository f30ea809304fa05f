"""Time surfaces against hand-worked values and a per-pixel python loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import TimeSurface, time_surface

from .strategies import ref_window, windows


def ref_surface(events, width, height, tau, t0, t1):
    rows, t0, t1 = ref_window(events, t0, t1)
    last = {}
    for x, y, pol, t in rows:
        last[(pol, y, x)] = max(t, last.get((pol, y, x), t))
    out = np.zeros((2, height, width))
    for (pol, y, x), t in last.items():
        out[pol, y, x] = math.exp(-((t1 - 1) - t) / tau)
    return out


def test_hand_worked_decay():
    # window [0, 101): t_ref = 100. ON at (0,0) at 50 and 100 -> 1; OFF at (1,0) at 80 -> exp(-20/20)
    ev = make_events([0, 1, 0], [0, 0, 0], [1, 0, 1], [50, 80, 100])
    out = TimeSurface(2, 1, tau=20.0)(ev, 0, 101)
    assert out.shape == (2, 1, 2)
    assert out[1, 0].tolist() == [1.0, 0.0]
    assert out[0, 0, 1].item() == pytest.approx(math.exp(-1))
    assert out[0, 0, 0].item() == 0.0


def test_event_at_t1_is_excluded():
    ev = make_events([0, 0], [0, 0], [1, 1], [10, 20])
    assert TimeSurface(1, 1, tau=10.0)(ev, 0, 20)[1, 0, 0].item() == pytest.approx(math.exp(-9 / 10))


def test_long_ago_underflows_to_zero_without_harm():
    ev = make_events([0, 0], [0, 0], [1, 1], [0, 10_000_000])
    out = TimeSurface(1, 1, tau=1.0)(ev, 0, 20_000_000)
    assert out[1, 0, 0].item() == 0.0


@pytest.mark.parametrize("tau", [0, -1.0, float("nan"), float("inf"), "10"])
def test_bad_tau_raises(tau):
    with pytest.raises(ValueError):
        TimeSurface(2, 2, tau=tau)


def test_unsorted_and_off_sensor_raise():
    with pytest.raises(ValueError, match="not sorted"):
        TimeSurface(2, 2, tau=5.0)(make_events([0, 1], [0, 0], [1, 1], [9, 3]), 0, 10)
    with pytest.raises(ValueError, match="outside"):
        TimeSurface(2, 2, tau=5.0)(make_events([2], [0], [1], [0]))


@settings(max_examples=80, deadline=None)
@given(windows(), st.sampled_from([1.0, 7.5, 1000.0]))
def test_matches_reference(case, tau):
    events, w, h, t0, t1 = case
    got = time_surface(events, w, h, tau, t0, t1)
    assert tuple(got.shape) == TimeSurface(w, h, tau).shape
    np.testing.assert_allclose(got.numpy(), ref_surface(events, w, h, tau, t0, t1), rtol=1e-6, atol=1e-30)
