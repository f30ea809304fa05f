"""DVSGesture over a tiny synthetic DVS128 Gesture folder: segments, windows, frames by hand, cache."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from spikesight.io.aedat import AedatReader
from spikesight.io.sim.recordings import write_gesture
from spikesight.perception.data import DVSGesture, GestureLabelsError, read_labels

T, DT = 10, 20_000  # 200 ms windows


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gesture")
    short = dict(fps=100, gesture_seconds=(0.3, 0.4), rest_seconds=(0.1, 0.2))
    write_gesture(root / "user01_lab", 11, [1, 5, 11], **short)
    write_gesture(root / "user02_led", 12, [2, 3], **short)
    (root / "trials_to_train.txt").write_text("user01_lab.aedat\n")
    (root / "trials_to_test.txt").write_text("user02_led.aedat\n\n")
    return root


def csv_rows(path: Path) -> list[tuple[int, int, int]]:
    with open(path, newline="") as f:
        return [
            (int(r["class"]), int(r["startTime_usec"]), int(r["endTime_usec"])) for r in csv.DictReader(f)
        ]


def frames_by_hand(events: np.ndarray, t0: int, t_end: int, size: int = 32) -> np.ndarray:
    """Counts per (frame, polarity, y, x) of the events in [t0, min(t0 + T*DT, t_end)), pooled 128 -> size."""
    out = np.zeros((T, 2, size, size), dtype=np.float32)
    f = 128 // size
    for e in events:
        t = int(e["t"])
        if t0 <= t < min(t0 + T * DT, t_end):
            out[(t - t0) // DT, int(e["p"]), int(e["y"]) // f, int(e["x"]) // f] += 1
    return out


def test_segments_and_labels_follow_the_csv(root, tmp_path):
    ds = DVSGesture(root, "train", T=T, dt_us=DT, cache_dir=tmp_path)
    rows = csv_rows(root / "user01_lab_labels.csv")
    assert [(s.label + 1, s.start, s.end) for s in ds.segments] == rows
    assert ds.labels == [0, 4, 10]
    assert all(s.recording == root / "user01_lab.aedat" for s in ds.segments)
    test = DVSGesture(root, "test", T=T, dt_us=DT, clips=3, cache_dir=tmp_path)
    assert test.window == "clips" and len(test) == 2 * 3
    assert test.labels == [1, 1, 1, 2, 2, 2]


def test_clip_windows_and_frames_by_hand(root, tmp_path):
    ds = DVSGesture(root, "test", T=T, dt_us=DT, clips=3, cache_dir=tmp_path)
    with AedatReader(root / "user02_led.aedat") as r:
        raw = r.read_window(0, 1 << 40)
    for i, (s, c) in enumerate(ds.items):
        cls, start, end = csv_rows(root / "user02_led_labels.csv")[s]
        last = end - T * DT
        assert ds.window_start(i) == [start, start + (last - start) // 2, last][c]
        x, label = ds[i]
        assert label == cls - 1
        assert x.shape == (T, 2, 32, 32) and x.dtype == torch.float32
        expected = frames_by_hand(raw[(raw["t"] >= start) & (raw["t"] < end)], ds.window_start(i), end)
        assert expected.sum() > 0
        np.testing.assert_array_equal(x.numpy(), expected)


def test_full_resolution_and_binary(root, tmp_path):
    full = DVSGesture(root, "test", T=T, dt_us=DT, size=128, clips=1, cache_dir=tmp_path)
    pooled = DVSGesture(root, "test", T=T, dt_us=DT, clips=1, cache_dir=tmp_path)
    binary = DVSGesture(root, "test", T=T, dt_us=DT, size=128, clips=1, binary=True, cache_dir=tmp_path)
    x128, x32, xb = full[0][0], pooled[0][0], binary[0][0]
    assert x128.shape == (T, 2, 128, 128)
    torch.testing.assert_close(x128.reshape(T, 2, 32, 4, 32, 4).sum((3, 5)), x32)
    torch.testing.assert_close(xb, (x128 > 0).float())


def test_random_windows_are_inside_and_reproducible(root, tmp_path):
    ds = DVSGesture(root, "train", T=T, dt_us=DT, seed=4, cache_dir=tmp_path)
    assert ds.window == "random" and len(ds) == 3
    starts = {}
    for epoch in range(4):
        ds.set_epoch(epoch)
        starts[epoch] = [ds.window_start(i) for i in range(len(ds))]
        for i, t0 in enumerate(starts[epoch]):
            seg = ds.segments[i]
            assert seg.start <= t0 <= seg.end - T * DT
    assert len({tuple(v) for v in starts.values()}) > 1  # another epoch, other windows
    again = DVSGesture(root, "train", T=T, dt_us=DT, seed=4, cache_dir=tmp_path)
    again.set_epoch(2)
    assert [again.window_start(i) for i in range(3)] == starts[2]
    ds.set_epoch(2)
    torch.testing.assert_close(again[1][0], ds[1][0])


def test_segment_shorter_than_the_window(root, tmp_path):
    long_dt = 100_000  # 1 s windows, longer than every segment
    ds = DVSGesture(root, "test", T=T, dt_us=long_dt, clips=2, cache_dir=tmp_path)
    seg = ds.segments[0]
    assert ds.window_start(0) == ds.window_start(1) == seg.start
    x = ds[0][0]
    after = (seg.end - seg.start) // long_dt + 1
    assert x[after:].sum() == 0 and x[:after].sum() > 0


def test_cache_hit_and_rebuild(root, tmp_path):
    cache = tmp_path / "cache"
    first = DVSGesture(root, "train", T=T, dt_us=DT, window="clips", clips=1, cache_dir=cache)
    a = [first[i][0] for i in range(len(first))]
    assert first.cache.decodes == 1  # one decode of the recording fills every segment
    assert len(list(cache.glob("*.npz"))) == 3
    second = DVSGesture(root, "train", T=T, dt_us=DT, window="clips", clips=1, cache_dir=cache)
    b = [second[i][0] for i in range(len(second))]
    assert second.cache.decodes == 0
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)
    rec = root / "user01_lab.aedat"
    st = rec.stat()
    os.utime(rec, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    try:
        third = DVSGesture(root, "train", T=T, dt_us=DT, window="clips", clips=1, cache_dir=cache)
        assert torch.equal(third[0][0], a[0]) and third.cache.decodes == 1
    finally:
        os.utime(rec, ns=(st.st_atime_ns, st.st_mtime_ns))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_labels_with_the_user22_defect_load_with_a_warning(tmp_path, caplog):
    # user22_led_labels.csv: class 9 ends at 110590564, after class 10 starts
    path = write(
        tmp_path / "user22_led_labels.csv",
        "class,startTime_usec,endTime_usec\n9,100000000,110590564\n10,105000000,110000000\n7,120000000,119000000\n",
    )
    with caplog.at_level(logging.WARNING):
        segs = read_labels(path)
    assert [(s.label, s.start, s.end, s.row) for s in segs] == [
        (8, 100000000, 105000000, 0),
        (9, 105000000, 110000000, 1),
    ]
    assert segs[0].recording == tmp_path / "user22_led.aedat"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("class,start,end\n1,0,10\n", 1),
        ("", 1),
        ("class,startTime_usec,endTime_usec\n1,0,10\n12,20,30\n", 3),
        ("class,startTime_usec,endTime_usec\n0,0,10\n", 2),
        ("class,startTime_usec,endTime_usec\n1,0\n", 2),
        ("class,startTime_usec,endTime_usec\n1,a,10\n", 2),
    ],
)
def test_bad_labels_raise(tmp_path, text, line):
    path = write(tmp_path / "user01_lab_labels.csv", text)
    with pytest.raises(GestureLabelsError) as err:
        read_labels(path)
    assert err.value.offset == line and str(path) in str(err.value)


def test_bad_arguments(root, tmp_path):
    with pytest.raises(FileNotFoundError):
        DVSGesture(root, "val", cache_dir=tmp_path)
    with pytest.raises(ValueError):
        DVSGesture(root, "train", size=30, cache_dir=tmp_path)
    with pytest.raises(ValueError):
        DVSGesture(root, "train", T=0, cache_dir=tmp_path)
    with pytest.raises(ValueError):
        DVSGesture(root, "train", window="first", cache_dir=tmp_path)


def test_batches_through_a_dataloader(root, tmp_path):
    ds = DVSGesture(root, "train", T=T, dt_us=DT, cache_dir=tmp_path)
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert x.shape == (3, T, 2, 32, 32)  # the model takes x.transpose(0, 1): [T, B, 2, 32, 32]
    assert y.tolist() == [0, 4, 10]
