"""Voxel grids against hand-worked values and the E2VID formula evaluated per event and bin."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import VoxelGrid, voxel_grid

from .strategies import ref_window, windows


def ref_voxel(events, width, height, bins, span, t0, t1):
    """V(b, y, x) = sum_i p_i max(0, 1 - |b - t*_i|), t* = (B-1)(t - origin) / length, exactly."""
    rows, t0, t1 = ref_window(events, t0, t1)
    if span == "events":
        origin = rows[0][3] if rows else t0
        length = max(rows[-1][3] - origin, 1) if rows else 1
    else:
        origin, length = t0, max(t1 - t0, 1)
    out = np.zeros((bins, height, width))
    for x, y, pol, t in rows:
        ts = Fraction((bins - 1) * (t - origin), length)
        for b in range(bins):
            out[b, y, x] += (1 if pol else -1) * float(max(Fraction(0), 1 - abs(b - ts)))
    return out


def ref_normalise(v):
    v = v.copy()
    mask = v != 0
    if mask.any():
        vals = v[mask]
        std = vals.std()
        v[mask] = (vals - vals.mean()) / (std if std > 0 else 1)
    return v


def test_hand_worked_bilinear_weights():
    # first event t=0, last t=40, B=5: t* = t / 10. ON at t=0 -> bin 0; OFF at t=15 -> t*=1.5,
    # half to bins 1 and 2; ON at t=40 -> bin 4 (the last event, t* = B-1).
    ev = make_events([0, 1, 2], [0, 0, 0], [1, 0, 1], [0, 15, 40])
    out = VoxelGrid(3, 1, bins=5)(ev)
    assert out.shape == (5, 1, 3)
    assert out[:, 0, 0].tolist() == [1, 0, 0, 0, 0]
    assert out[:, 0, 1].tolist() == [0, -0.5, -0.5, 0, 0]
    assert out[:, 0, 2].tolist() == [0, 0, 0, 0, 1]


def test_window_span_uses_the_window():
    # window [0, 40): t* = 4 * t / 40; t=30 -> 3.0
    ev = make_events([0], [0], [1], [30])
    assert VoxelGrid(1, 1, bins=5, span="window")(ev, 0, 40).reshape(-1).tolist() == [0, 0, 0, 1, 0]


def test_single_timestamp_goes_to_the_first_bin():
    ev = make_events([0, 1], [0, 0], [1, 1], [7, 7])
    out = VoxelGrid(2, 1, bins=3)(ev)
    assert out[0].tolist() == [[1, 1]] and not out[1:].any()


def test_normalise_gives_mean_zero_std_one_on_nonzero_entries():
    ev = make_events([0, 1, 2, 2], [0, 0, 0, 1], [1, 1, 0, 1], [0, 3, 7, 10])
    out = VoxelGrid(3, 2, bins=4, normalise=True)(ev)
    vals = out[out != 0].double()
    assert vals.mean().item() == pytest.approx(0, abs=1e-6)
    assert vals.std(unbiased=False).item() == pytest.approx(1, abs=1e-6)


def test_normalise_of_nothing_is_zeros():
    assert not VoxelGrid(3, 2, normalise=True)(make_events([], [], [], [])).any()


@pytest.mark.parametrize("kwargs", [{"bins": 0}, {"span": "all"}])
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        VoxelGrid(4, 4, **kwargs)


def test_event_off_the_sensor_raises():
    with pytest.raises(ValueError, match="outside"):
        VoxelGrid(2, 2)(make_events([0], [5], [1], [0]))


@settings(max_examples=80, deadline=None)
@given(windows(), st.integers(1, 6), st.sampled_from(["events", "window"]))
def test_matches_reference(case, bins, span):
    events, w, h, t0, t1 = case
    got = voxel_grid(events, w, h, bins, span, False, t0, t1)
    assert tuple(got.shape) == VoxelGrid(w, h, bins, span).shape
    np.testing.assert_allclose(got.numpy(), ref_voxel(events, w, h, bins, span, t0, t1), rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(windows(), st.integers(1, 6))
def test_normalised_matches_reference(case, bins):
    events, w, h, t0, t1 = case
    events["p"] = 1  # one polarity: no entry cancels to a rounding residue
    got = voxel_grid(events, w, h, bins, "events", True, t0, t1).numpy()
    np.testing.assert_allclose(got, ref_normalise(ref_voxel(events, w, h, bins, "events", t0, t1)), atol=1e-4)


def test_wall_clock_timestamps():
    base = 1_700_000_000_000_000
    ev = make_events([0, 0, 0], [0, 0, 0], [1, 1, 1], [base, base + 25_000, base + 50_000])
    assert VoxelGrid(1, 1, bins=3)(ev).reshape(-1).tolist() == [1, 1, 1]
