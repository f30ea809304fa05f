"""The window rule, the binary search and bin edges every representation relies on."""

import doctest
import importlib

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spikesight.io import make_events
from spikesight.perception.representations import (
    CumulativeStack,
    EventFrame,
    FrameSequence,
    SpikeYOLOFrames,
    StackedHistogram,
    TimeSurface,
    VoxelGrid,
)
from spikesight.perception.representations.binning import bin_starts
from spikesight.perception.representations.window import search_sorted, select_window

from .strategies import ref_window, windows

MODULES = [
    "window",
    "binning",
    "frame",
    "histogram",
    "frames_t",
    "cumulative",
    "spikeyolo",
    "voxel",
    "time_surface",
    "rate",
    "resize",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"spikesight.perception.representations.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0


def test_default_window_covers_every_event():
    ev = make_events([0, 1, 2], [0, 0, 0], [0, 1, 1], [10, 20, 30])
    sel, t0, t1 = select_window(ev)
    assert (t0, t1) == (10, 31)
    assert sel["t"].tolist() == [10, 20, 30]


def test_t1_is_excluded_and_t0_included():
    ev = make_events([0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 1, 0], [10, 20, 20, 30])
    sel, _, _ = select_window(ev, 20, 30)
    assert sel["t"].tolist() == [20, 20]


def test_window_past_the_events_is_empty():
    ev = make_events([0], [0], [1], [10])
    sel, t0, t1 = select_window(ev, 50)
    assert len(sel) == 0 and (t0, t1) == (50, 50)


def test_empty_events_give_empty_window():
    sel, t0, t1 = select_window(make_events([], [], [], []))
    assert len(sel) == 0 and t0 == t1


def test_window_ending_before_it_starts_is_an_error():
    with pytest.raises(ValueError, match="ends before"):
        select_window(make_events([0], [0], [1], [10]), 20, 10)


def test_selection_is_a_view_not_a_copy():
    ev = make_events([0, 1], [0, 0], [1, 1], [1, 2])
    sel, _, _ = select_window(ev)
    assert np.shares_memory(sel, ev)


@settings(max_examples=80, deadline=None)
@given(windows())
def test_select_window_matches_reference(case):
    events, _, _, t0, t1 = case
    sel, a, b = select_window(events, t0, t1)
    rows, r0, r1 = ref_window(events, t0, t1)
    assert (a, b) == (r0, r1)
    assert sel["t"].tolist() == [r[3] for r in rows]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-5, 30), max_size=40), st.lists(st.integers(-8, 35), max_size=10))
def test_search_sorted_matches_numpy_on_a_strided_field(ts, values):
    ev = make_events(np.zeros(len(ts)), np.zeros(len(ts)), np.zeros(len(ts)), sorted(ts))
    v = np.array(values, dtype=np.int64)
    want = np.searchsorted(np.array(sorted(ts), dtype=np.int64), v)
    assert search_sorted(ev["t"], v).tolist() == want.tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 9), st.integers(1, 60), st.integers(0, 5))
def test_bin_starts_follow_the_floor_rule(ts, nbins, span, origin):
    t = np.array(sorted(origin + v for v in ts), dtype=np.int64)
    starts = bin_starts(t, origin, span, nbins)
    want = [min((int(v) - origin) * nbins // span, nbins - 1) for v in t]
    got = np.repeat(np.arange(nbins), np.diff(starts)).tolist()
    assert got == want


REPRESENTATIONS = [
    EventFrame(4, 4),
    EventFrame(4, 4, "signed"),
    StackedHistogram(4, 4, bins=3),
    SpikeYOLOFrames(4, 4, 2),
    CumulativeStack(4, 4, 2),
    VoxelGrid(4, 4, 3),
    TimeSurface(4, 4, 5.0),
    FrameSequence(4, 4, 3),
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=30), st.data())
@pytest.mark.parametrize("rep", REPRESENTATIONS, ids=lambda r: type(r).__name__)
def test_unsorted_events_raise_whatever_the_window(rep, ts, data):
    assume(ts != sorted(ts))
    n = len(ts)
    ev = make_events([i % 4 for i in range(n)], [i % 3 for i in range(n)], [i % 2 for i in range(n)], ts)
    t0 = data.draw(st.one_of(st.none(), st.integers(-2, 32)))
    t1 = data.draw(st.one_of(st.none(), st.integers(t0 if t0 is not None else -2, 34)))
    with pytest.raises(ValueError, match="not sorted"):
        rep(ev, t0, t1)


@pytest.mark.parametrize("rep", REPRESENTATIONS, ids=lambda r: type(r).__name__)
def test_other_event_layouts_are_converted(rep):
    ev = np.zeros(3, dtype=[("t", "<i8"), ("x", "<i4"), ("y", "<i4"), ("p", "<i1")])
    ev["t"] = [0, 1, 2]
    ev["x"] = [0, 1, 3]
    ev["y"] = [3, 2, 0]
    ev["p"] = [0, 1, 1]
    want = rep(make_events(ev["x"], ev["y"], ev["p"], ev["t"]))
    assert torch.equal(rep(ev), want)
