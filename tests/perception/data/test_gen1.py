"""The Gen1-layout detection dataset on tiny hand-made recordings (DAT events + Gen1 box files)."""

import pickle

import numpy as np
import pytest
import torch

from spikesight.io import make_events, write_events
from spikesight.io.bbox import write_boxes
from spikesight.perception.data.gen1 import Gen1Detection, find_recordings
from spikesight.perception.detection.inputs import DetectionInput

W, H = 304, 240


def boxes(rows):
    """Gen1 boxes from ``(t, x, y, w, h, class)`` rows."""
    out = np.zeros(len(rows), dtype=[("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                                     ("class_id", "<u4"), ("track_id", "<u4")])
    for i, row in enumerate(rows):
        out[i] = (*row, i)
    return out


def random_events(seed, duration=300_000, n=3000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration, n))
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t)


def write_recording(folder, name, events, rows, width=W, height=H):
    folder.mkdir(parents=True, exist_ok=True)
    write_events(folder / f"{name}_td.dat", events, width, height)
    write_boxes(folder / f"{name}_bbox.npy", boxes(rows), "gen1")


ROWS_A = [
    (100_000, 10, 20, 40, 30, 0),  # kept
    (100_000, 200, 100, 5, 5, 1),  # tiny: filtered out
    (150_000, 50, 50, 8, 8, 0),  # tiny: its label time has no box left
    (200_000, 100, 60, 20, 60, 1),  # kept
    (200_000, 290, 200, 40, 30, 0),  # cropped to x in [290, 303], 13 wide: kept
]
ROWS_B = [(250_000, 0, 0, 50, 50, 1), (250_000, 60, 60, 30, 30, 5)]  # class 5 is not one of 2


@pytest.fixture
def dataset_dir(tmp_path):
    write_recording(tmp_path / "train", "rec_a", random_events(1), ROWS_A)
    write_recording(tmp_path / "train", "rec_b", random_events(2), ROWS_B)
    return tmp_path


def test_samples_are_filtered_label_times(dataset_dir):
    ds = Gen1Detection(dataset_dir, DetectionInput(window_us=50_000), "train")
    assert len(ds) == 3
    assert [ds.locate(i) for i in range(3)] == [(0, 100_000), (0, 200_000), (1, 250_000)]
    b, lab = ds.sensor_boxes(1)
    assert np.allclose(b, [[100, 60, 120, 120], [290, 200, 303, 230]]) and lab.tolist() == [1, 0]
    assert ds.sensor_boxes(2)[1].tolist() == [1]  # the class-5 box is left out
    with pytest.raises(IndexError):
        ds.locate(3)


def test_keep_empty_and_skip_ts(dataset_dir):
    ds = Gen1Detection(dataset_dir, DetectionInput(window_us=50_000), "train", keep_empty=True)
    assert [ds.locate(i)[1] for i in range(len(ds))] == [100_000, 150_000, 200_000, 250_000]
    x, y = ds[1]
    assert y.shape == (0, 5) and x.shape == (4, 3, 256, 320)
    ds = Gen1Detection(dataset_dir, DetectionInput(window_us=50_000), "train", skip_ts=150_000)
    assert [ds.locate(i)[1] for i in range(len(ds))] == [200_000, 250_000]


def test_item_is_the_window_before_the_label(dataset_dir):
    inp = DetectionInput.for_sensor(W, H, scale=0.5, representation="histogram", steps=3, window_us=80_000)
    ds = Gen1Detection(dataset_dir, inp, "train")
    events = random_events(1)
    x, y = ds[1]  # rec_a at 200 ms
    assert torch.equal(x, inp(events, 200_000))
    sx, sy = 160 / W, 128 / H
    expect = [[1, 100 * sx, 60 * sy, 120 * sx, 120 * sy], [0, 290 * sx, 200 * sy, 303 * sx, 230 * sy]]
    assert y.dtype == torch.float32 and torch.allclose(y, torch.tensor(expect), atol=1e-4)
    window = ds.read_events(0, 120_000, 200_000)
    inside = events[(events["t"] >= 120_000) & (events["t"] < 200_000)]
    assert np.array_equal(window, inside)


def test_flip_is_deterministic_and_mirrors(dataset_dir):
    inp = DetectionInput(representation="histogram", steps=2, window_us=100_000)
    plain = Gen1Detection(dataset_dir, inp, "train")
    ds = Gen1Detection(dataset_dir, inp, "train", flip=True, seed=3)
    events = random_events(1)
    mirrored = events.copy()
    mirrored["x"] = W - 1 - events["x"]
    seen = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        x, y = ds[0]
        x2, y2 = ds[0]
        assert torch.equal(x, x2) and torch.equal(y, y2)
        flipped = bool(np.random.default_rng((3, epoch, 0)).random() < 0.5)
        seen.add(flipped)
        if flipped:
            assert torch.equal(x, inp(mirrored, 100_000))
            assert torch.allclose(y, torch.tensor([[0.0, W - 50, 20, W - 10, 50]]))
        else:
            assert torch.equal(x, plain[0][0]) and torch.equal(y, plain[0][1])
    assert seen == {True, False}


def test_pickled_dataset_reopens_its_readers(dataset_dir):
    ds = Gen1Detection(dataset_dir, DetectionInput(window_us=50_000), "train")
    first = ds[0]
    copy = pickle.loads(pickle.dumps(ds))
    assert torch.equal(copy[0][0], first[0]) and torch.equal(copy[0][1], first[1])
    ds.close()
    copy.close()


def test_folder_without_split_and_errors(tmp_path):
    write_recording(tmp_path, "only", random_events(4), ROWS_B)
    assert [r[0] for r in find_recordings(tmp_path)] == ["only"]
    assert len(Gen1Detection(tmp_path, DetectionInput())) == 1
    with pytest.raises(FileNotFoundError):
        find_recordings(tmp_path, "val")
    (tmp_path / "lonely_td.dat").write_bytes((tmp_path / "only_td.dat").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"lonely_bbox\.npy"):
        find_recordings(tmp_path)
    other = tmp_path / "big"
    write_recording(other, "wide", random_events(5), ROWS_B, width=640, height=480)
    with pytest.raises(ValueError, match="640x480"):
        Gen1Detection(other, DetectionInput())


def test_repeat_factor_sampling_repeats_label_times_of_rare_classes(tmp_path):
    # five label times show a car; only the one at 300 ms also shows a pedestrian: f_car = 1, f_ped = 0.2
    rows = [(t, 10, 20, 40, 30, 0) for t in range(100_000, 600_000, 100_000)]
    rows.append((300_000, 100, 60, 20, 60, 1))
    write_recording(tmp_path / "train", "rec", random_events(4, duration=600_000), rows)
    inp = DetectionInput(representation="histogram", steps=2, window_us=50_000)
    times = [100_000, 200_000, 300_000, 400_000, 500_000]
    assert [Gen1Detection(tmp_path, inp, "train").locate(i)[1] for i in range(5)] == times
    for threshold, copies in ((0.8, 2), (1.8, 3), (0.1, 1)):  # round(sqrt(threshold / 0.2)), at least 1
        ds = Gen1Detection(tmp_path, inp, "train", repeat_threshold=threshold, flip=True, seed=1)
        expect = times[:2] + [300_000] * copies + times[3:]
        assert [ds.locate(i)[1] for i in range(len(ds))] == expect
        for i in range(len(ds)):
            assert ds.sensor_boxes(i)[1].tolist() == ([0, 1] if expect[i] == 300_000 else [0])
    ds = Gen1Detection(tmp_path, inp, "train", repeat_threshold=1.8, flip=True, seed=1)
    draws = [bool(np.random.default_rng((1, 0, i)).random() < 0.5) for i in (2, 3, 4)]
    plain = Gen1Detection(tmp_path, inp, "train")[2][1]
    for i, flipped in zip((2, 3, 4), draws, strict=True):  # each copy draws its own flip
        assert torch.equal(ds[i][1], plain) != flipped
    with pytest.raises(ValueError, match="repeat_threshold"):
        Gen1Detection(tmp_path, inp, "train", repeat_threshold=0)
