"""RVT's stacked histogram against hand-worked values and a per-event python loop."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import StackedHistogram, stacked_histogram

from .strategies import ref_window, windows


def ref_histogram(events, width, height, bins, cutoff, span, t0, t1):
    rows, t0, t1 = ref_window(events, t0, t1)
    if span == "window":
        origin, length = t0, max(t1 - t0, 1)
    else:
        origin = rows[0][3] if rows else t0
        length = max(rows[-1][3] - origin, 1) if rows else 1
    out = np.zeros((2 * bins, height, width))
    for x, y, pol, t in rows:
        b = min((t - origin) * bins // length, bins - 1)
        c = pol * bins + b
        if cutoff is None or out[c, y, x] < cutoff:
            out[c, y, x] += 1
    return out


def test_hand_worked_rvt_channel_order():
    # window [0, 40), 4 bins of 10 µs: OFF at t=0 (bin 0), ON at t=10 (edge: bin 1),
    # ON at t=39 (bin 3), OFF at t=40 (t1: excluded)
    ev = make_events([0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 1, 0], [0, 10, 39, 40])
    out = StackedHistogram(4, 1, bins=4)(ev, 0, 40)
    assert out.shape == (8, 1, 4)
    nonzero = {
        (c, x): v for c, x in zip(*np.nonzero(out[:, 0].numpy()), strict=True) for v in [float(out[c, 0, x])]
    }
    assert nonzero == {(0, 0): 1.0, (4 + 1, 1): 1.0, (4 + 3, 2): 1.0}


def test_cutoff_saturates():
    ev = make_events([0] * 15, [0] * 15, [1] * 15, list(range(15)))
    assert StackedHistogram(1, 1, bins=1, cutoff=10)(ev).reshape(-1).tolist() == [0.0, 10.0]
    assert StackedHistogram(1, 1, bins=1, cutoff=None)(ev).reshape(-1).tolist() == [0.0, 15.0]


def test_uint8_without_cutoff_stops_at_255():
    ev = make_events([0] * 300, [0] * 300, [1] * 300, list(range(300)))
    out = StackedHistogram(1, 1, bins=1, cutoff=None, dtype="uint8")(ev)
    assert out.dtype == torch.uint8 and out.reshape(-1).tolist() == [0, 255]


def test_normalise_unit_and_log():
    ev = make_events([0] * 3, [0] * 3, [1] * 3, [0, 1, 2])
    unit = StackedHistogram(1, 1, bins=1, cutoff=4, normalise="unit")(ev)
    assert unit.reshape(-1).tolist() == [0.0, 0.75]
    log = StackedHistogram(1, 1, bins=1, cutoff=4, normalise="log")(ev)
    assert log.reshape(-1)[1].item() == pytest.approx(math.log(4) / math.log(5))


def test_events_span_is_rvts_rule():
    # first event t=100, last t=110: 2 bins split at 105; the last event is clamped into bin 1
    ev = make_events([0, 0, 0], [0, 0, 0], [1, 1, 1], [100, 105, 110])
    out = StackedHistogram(1, 1, bins=2, cutoff=None, span="events")(ev, 0, 1000)
    assert out[2:, 0, 0].tolist() == [1.0, 2.0]
    # over the window [0, 1000) the same events all fall in the first half
    out = StackedHistogram(1, 1, bins=2, cutoff=None)(ev, 0, 1000)
    assert out[2:, 0, 0].tolist() == [3.0, 0.0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bins": 0},
        {"cutoff": 0},
        {"span": "all"},
        {"normalise": "max"},
        {"dtype": "int16"},
        {"dtype": "uint8", "normalise": "unit"},
        {"dtype": "uint8", "cutoff": 300},
        {"cutoff": None, "normalise": "log"},
    ],
)
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        StackedHistogram(4, 4, **kwargs)


def test_event_off_the_sensor_and_unsorted_raise():
    with pytest.raises(ValueError, match="outside"):
        StackedHistogram(2, 2)(make_events([0], [2], [1], [0]))
    with pytest.raises(ValueError, match="not sorted"):
        StackedHistogram(2, 2)(make_events([0, 0], [0, 0], [1, 1], [5, 4]))


@settings(max_examples=100, deadline=None)
@given(
    windows(),
    st.integers(1, 6),
    st.sampled_from([None, 1, 2, 10]),
    st.sampled_from(["window", "events"]),
    st.sampled_from(["float32", "uint8"]),
)
def test_matches_reference(case, bins, cutoff, span, dtype):
    events, w, h, t0, t1 = case
    got = stacked_histogram(events, w, h, bins, cutoff, span, None, dtype, t0, t1)
    assert tuple(got.shape) == StackedHistogram(w, h, bins, cutoff, span, None, dtype).shape
    np.testing.assert_array_equal(got.numpy(), ref_histogram(events, w, h, bins, cutoff, span, t0, t1))


@settings(max_examples=40, deadline=None)
@given(windows(), st.integers(1, 4), st.sampled_from(["unit", "log"]))
def test_normalised_matches_reference(case, bins, normalise):
    events, w, h, t0, t1 = case
    got = stacked_histogram(events, w, h, bins, 3, "window", normalise, "float32", t0, t1).numpy()
    ref = ref_histogram(events, w, h, bins, 3, "window", t0, t1)
    ref = ref / 3 if normalise == "unit" else np.log1p(ref) / np.log1p(3)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
