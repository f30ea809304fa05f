"""Gen1 / 1 Mpx box files: the datasets' exact dtypes, round trips, windows, the evaluation filter."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import EmptyFileError, HeaderError, TruncatedError
from spikesight.io.bbox import (
    BBOX_DTYPE,
    GEN1_FILTER,
    MPX_FILTER,
    boxes_in_window,
    filter_boxes,
    read_boxes,
    write_boxes,
)

# The dtypes as the dataset files hold them, spelled out here rather than imported.
GEN1_FILE = [("ts", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"), ("class_id", "u1"),
             ("confidence", "<f4"), ("track_id", "<u4")]
MPX_FILE = [("t", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"), ("class_id", "u1"),
            ("class_confidence", "<f4"), ("track_id", "<u4")]


def test_reads_gen1_file_saved_by_numpy(tmp_path):
    rows = [(499_999, 10.5, 20.25, 30.0, 40.0, 0, 0.75, 7), (500_000, 1.0, 2.0, 3.0, 4.0, 1, 1.0, 8)]
    np.save(tmp_path / "a_bbox.npy", np.array(rows, dtype=GEN1_FILE))
    boxes = read_boxes(tmp_path / "a_bbox.npy")
    assert boxes.dtype == BBOX_DTYPE
    assert boxes["t"].tolist() == [499_999, 500_000]
    assert boxes["x"].tolist() == [10.5, 1.0]
    assert boxes["y"].tolist() == [20.25, 2.0]
    assert boxes["w"].tolist() == [30.0, 3.0]
    assert boxes["h"].tolist() == [40.0, 4.0]
    assert boxes["class_id"].tolist() == [0, 1]
    assert boxes["class_confidence"].tolist() == [0.75, 1.0]
    assert boxes["track_id"].tolist() == [7, 8]


def test_reads_1mpx_file_saved_by_numpy(tmp_path):
    rows = [(16_666, 600.5, 300.0, 120.0, 80.0, 2, 0.5, 12)]
    np.save(tmp_path / "b_bbox.npy", np.array(rows, dtype=MPX_FILE))
    boxes = read_boxes(tmp_path / "b_bbox.npy")
    assert boxes.tolist() == [(16_666, 600.5, 300.0, 120.0, 80.0, 2, 12, 0.5)]


def test_missing_optional_fields_get_defaults(tmp_path):
    dtype = [("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"), ("class_id", "u1")]
    np.save(tmp_path / "c.npy", np.array([(5, 1, 2, 3, 4, 6)], dtype=dtype))
    boxes = read_boxes(tmp_path / "c.npy")
    assert (boxes["track_id"][0], boxes["class_confidence"][0]) == (0, 1.0)


box_rows = st.lists(
    st.tuples(st.integers(0, 2**40), st.floats(-50, 1300, width=32), st.floats(-50, 800, width=32),
              st.floats(0, 500, width=32), st.floats(0, 500, width=32), st.integers(0, 255),
              st.integers(0, 2**32 - 1), st.floats(0, 1, width=32)),
    max_size=30,
)


@settings(max_examples=50, deadline=None)
@given(rows=box_rows, kind=st.sampled_from(["gen1", "1mpx", "metavision"]))
def test_round_trip_in_each_dataset_dtype(tmp_path_factory, rows, kind):
    boxes = np.array(sorted(rows), dtype=BBOX_DTYPE)
    path = tmp_path_factory.mktemp("b") / "r_bbox.npy"
    write_boxes(path, boxes, dtype=kind)
    on_disk = np.load(path)
    want = {"gen1": np.dtype(GEN1_FILE), "1mpx": np.dtype(MPX_FILE), "metavision": BBOX_DTYPE}[kind]
    assert on_disk.dtype == want
    np.testing.assert_array_equal(read_boxes(path), boxes)


def test_write_refuses_what_the_dtype_cannot_hold(tmp_path):
    big_class = np.array([(1, 0, 0, 1, 1, 300, 0, 1)], dtype=BBOX_DTYPE)
    with pytest.raises(ValueError, match="one byte"):
        write_boxes(tmp_path / "x.npy", big_class, dtype="gen1")
    write_boxes(tmp_path / "x.npy", big_class, dtype="metavision")
    negative = np.array([(-1, 0, 0, 1, 1, 3, 0, 1)], dtype=BBOX_DTYPE)
    with pytest.raises(ValueError, match="unsigned"):
        write_boxes(tmp_path / "y.npy", negative, dtype="1mpx")
    with pytest.raises(ValueError, match="dtype"):
        write_boxes(tmp_path / "z.npy", negative, dtype="coco")


def test_boxes_in_window_is_half_open():
    boxes = np.array([(t, 0, 0, 1, 1, 0, 0, 1) for t in (100, 200, 200, 300)], dtype=BBOX_DTYPE)
    assert boxes_in_window(boxes, 200, 300)["t"].tolist() == [200, 200]
    assert boxes_in_window(boxes, 0, 100)["t"].tolist() == []
    gen1 = np.array([(100, 0, 0, 1, 1, 0, 1, 0)], dtype=GEN1_FILE)
    assert len(boxes_in_window(gen1, 100, 101)) == 1


def test_filter_rule_on_hand_made_boxes():
    # (x, y, w, h) in a 304x240 frame, Gen1 thresholds (diagonal 30, side 10)
    cases = [
        ((10, 10, 20, 25), True),  # diagonal sqrt(400 + 625) = 32.0 >= 30, sides >= 10
        ((10, 10, 20, 20), False),  # diagonal 28.3 < 30
        ((10, 10, 9, 40), False),  # width 9 < 10
        ((10, 10, 21.25, 21.25), True),  # diagonal 30.05
        ((-10, 10, 30, 30), True),  # cropped to x=0, w=20: diagonal 36.1
        ((-25, 10, 30, 30), False),  # cropped to w=5
        ((10, 230, 30, 20), False),  # bottom clipped to 239: h=9
        ((400, 10, 30, 30), False),  # wholly outside: w=0
    ]
    boxes = np.array([(1_000_000, *xywh, 0, 0, 1.0) for xywh, _ in cases], dtype=BBOX_DTYPE)
    kept = filter_boxes(boxes, 304, 240, **GEN1_FILTER)
    assert sum(keep for _, keep in cases) == len(kept)
    assert kept[["x", "y", "w", "h"]].tolist() == [(10, 10, 20, 25), (10, 10, 21.25, 21.25), (0, 10, 20, 30)]
    assert boxes["x"][4] == -10  # the input is not modified


def test_filter_1mpx_thresholds_and_skip_ts():
    cases = [(400_000, 50, 50), (600_000, 50, 50), (600_000, 43, 43), (600_000, 42, 42), (600_000, 19, 80)]
    boxes = np.array([(t, 100, 100, w, h, 0, 0, 1.0) for t, w, h in cases], dtype=BBOX_DTYPE)
    kept = filter_boxes(boxes, 1280, 720, **MPX_FILTER, skip_ts=500_000)
    # t <= 0.5 s dropped; 43*sqrt(2) = 60.8 kept, 42*sqrt(2) = 59.4 dropped; side 19 < 20 dropped
    assert kept[["t", "w"]].tolist() == [(600_000, 50), (600_000, 43)]


def test_bad_files(tmp_path):
    empty = tmp_path / "e.npy"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_boxes(empty)
    text = tmp_path / "t.npy"
    text.write_text("t,x,y,w,h\n1,2,3,4,5\n")
    with pytest.raises(HeaderError):
        read_boxes(text)
    np.save(tmp_path / "plain.npy", np.zeros((3, 8)))
    with pytest.raises(HeaderError, match="structured"):
        read_boxes(tmp_path / "plain.npy")
    np.save(tmp_path / "nofield.npy", np.zeros(2, dtype=[("t", "<u8"), ("x", "<f4")]))
    with pytest.raises(HeaderError, match="lacks"):
        read_boxes(tmp_path / "nofield.npy")
    full = tmp_path / "full.npy"
    np.save(full, np.zeros(4, dtype=GEN1_FILE))
    cut = tmp_path / "cut.npy"
    cut.write_bytes(full.read_bytes()[:-5])
    with pytest.raises(TruncatedError) as err:
        read_boxes(cut)
    assert err.value.offset == len(full.read_bytes()) - np.dtype(GEN1_FILE).itemsize
