"""Rendering with decay, the noise filter, and ground-truth lookup, against plain references."""

from importlib.resources import files

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.app.groundtruth import GEN1_CLASSES, boxes_at, boxes_path_for, class_names_for, load_boxes
from spikesight.app.noise import BackgroundActivityFilter
from spikesight.app.render import EXP_TAU_FRACTION, decay_weight, render
from spikesight.io import make_events
from spikesight.io.bbox import write_boxes
from spikesight.io.video import PALETTES, render_frame

W, H = 7, 5


@st.composite
def event_arrays(draw, max_size=80):
    n = draw(st.integers(0, max_size))
    x = draw(st.lists(st.integers(0, W - 1), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, H - 1), min_size=n, max_size=n))
    p = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    t = sorted(draw(st.lists(st.integers(0, 999), min_size=n, max_size=n)))
    return make_events(x, y, p, t)


@settings(max_examples=60, deadline=None)
@given(ev=event_arrays(), palette=st.sampled_from(sorted(PALETTES)))
def test_no_decay_is_render_frame_and_counts_are_a_histogram(ev, palette):
    img, counts = render(ev, W, H, 1000, 1000, palette, "none")
    np.testing.assert_array_equal(img, render_frame(ev, W, H, palette))
    want = np.zeros((H, W), int)
    for e in ev:
        want[e["y"], e["x"]] += 1
    np.testing.assert_array_equal(counts, want)


def fade(bg, colour, w):
    return np.floor(np.asarray(bg, float) + w * (np.asarray(colour, float) - bg) + 0.5)


def test_linear_and_exponential_decay_by_hand():
    # one ON event at t=600 in pixel (1, 0), one OFF at t=900 in pixel (2, 0); the frame ends at 1000
    ev = make_events([1, 2], [0, 0], [1, 0], [600, 900])
    bg, on, off = PALETTES["dark"]
    img, _ = render(ev, 3, 1, 1000, 1000, "dark", "linear")
    np.testing.assert_array_equal(img[0, 0], bg)
    np.testing.assert_array_equal(img[0, 1], fade(bg, on, 0.6))
    np.testing.assert_array_equal(img[0, 2], fade(bg, off, 0.9))
    tau = EXP_TAU_FRACTION * 1000
    img, _ = render(ev, 3, 1, 1000, 1000, "dark", "exponential")
    np.testing.assert_array_equal(img[0, 1], fade(bg, on, np.exp(-400 / tau)))
    np.testing.assert_array_equal(img[0, 2], fade(bg, off, np.exp(-100 / tau)))
    assert decay_weight(2000.0, 1000.0, 1) == 0.0 and decay_weight(0.0, 1000.0, 2) == 1.0


def test_the_latest_event_of_a_pixel_wins():
    ev = make_events([0, 0], [0, 0], [1, 0], [10, 20])
    img, counts = render(ev, 1, 1, 21, 1000, "dark", "none")
    assert counts[0, 0] == 2 and tuple(img[0, 0]) == PALETTES["dark"][2]


def test_events_outside_the_geometry_are_ignored():
    _, counts = render(make_events([0, 9], [0, 0], [1, 1], [1, 2]), 2, 1, 3, 1000)
    assert counts.tolist() == [[1, 0]]


def reference_ba_filter(ev, w, h, window):
    last = {}
    keep = []
    for e in ev:
        x, y, t = int(e["x"]), int(e["y"]), int(e["t"])
        ok = any(t - last[(xx, yy)] < window for xx in range(x - 1, x + 2) for yy in range(y - 1, y + 2)
                 if (xx, yy) != (x, y) and (xx, yy) in last)
        keep.append(ok)
        last[(x, y)] = t
    return ev[np.array(keep, bool)] if len(ev) else ev


@settings(max_examples=60, deadline=None)
@given(ev=event_arrays(), window=st.integers(1, 400), cut=st.integers(0, 80))
def test_noise_filter_matches_reference_across_calls(ev, window, cut):
    f = BackgroundActivityFilter(W, H, window)
    got = np.concatenate([f(ev[:cut]), f(ev[cut:])]) if len(ev) else f(ev)
    np.testing.assert_array_equal(got, reference_ba_filter(ev, W, H, window))
    assert f.seen == len(ev) and f.kept == len(got)


def test_noise_filter_keeps_neighbours_and_drops_isolated_events():
    ev = make_events([3, 4, 0], [3, 3, 0], [1, 1, 1], [100, 150, 160])
    f = BackgroundActivityFilter(8, 8, 1000)
    out = f(ev)
    assert out["x"].tolist() == [4]
    with pytest.raises(ValueError):
        BackgroundActivityFilter(8, 8, 0)


BOX = np.dtype([("t", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"), ("class_id", "u1"),
                ("class_confidence", "<f4"), ("track_id", "<u4")])


def test_ground_truth_is_found_beside_the_file_and_held_briefly(tmp_path):
    rec = tmp_path / "scene_td.dat"
    rec.write_bytes(b"x")
    assert boxes_path_for(rec) is None
    boxes = np.zeros(3, BOX)
    boxes["t"] = [200_000, 100_000, 100_000]
    boxes["x"] = [30, 10, 20]
    np.save(tmp_path / "scene_bbox.npy", boxes)
    path = boxes_path_for(rec)
    assert path == str(tmp_path / "scene_bbox.npy")
    b = load_boxes(path)
    assert b["t"].tolist() == [100_000, 100_000, 200_000]
    assert len(boxes_at(b, 99_999)) == 0
    assert sorted(boxes_at(b, 150_000)["x"].tolist()) == [10, 20]
    assert boxes_at(b, 200_000)["x"].tolist() == [30]
    assert len(boxes_at(b, 200_000 + 250_000)) == 0
    np.save(tmp_path / "bad_bbox.npy", np.zeros(2))
    with pytest.raises(ValueError):
        load_boxes(str(tmp_path / "bad_bbox.npy"))


@pytest.mark.parametrize(("layout", "ids", "names"), [
    ("gen1", [0, 1], ("car", "pedestrian")),
    ("gen1", [0, 0], ("car", "pedestrian")),
    ("gen1", [0, 2], ()),  # an id Gen1 does not have: labelled by number
    ("1mpx", [0, 6], ("pedestrian", "two wheeler", "car", "truck", "bus", "traffic sign", "traffic light")),
    ("1mpx", [7], ()),
    ("metavision", [0, 1], ()),  # a detector's output, not a dataset's labels
])
def test_ground_truth_classes_are_named_after_the_dataset_of_the_files_layout(tmp_path, layout, ids, names):
    boxes = np.zeros(len(ids), BOX)
    boxes["class_id"] = ids
    path = tmp_path / "scene_bbox.npy"
    write_boxes(path, boxes, dtype=layout)
    assert class_names_for(path, load_boxes(str(path))) == names


def test_the_demo_and_the_simulator_name_cars_and_pedestrians():
    from spikesight.io.sim.street import CLASSES

    assert GEN1_CLASSES == CLASSES
    demo = files("spikesight.assets") / "demo" / "street_bbox.npy"
    assert class_names_for(demo, load_boxes(str(demo))) == ("car", "pedestrian")

