"""The `spikesight` command: info, convert, render, formats, and its errors."""

import json

import numpy as np
import pytest

from spikesight.cli import main
from spikesight.io import read_events

RAW = "evk4_evt3_prefix.raw"


def test_info_json_matches_the_events(data_dir, capsys):
    assert main(["info", str(data_dir / RAW), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    ev = read_events(data_dir / RAW)
    assert s["format"] == "evt3"
    assert (s["width"], s["height"]) == (1280, 720)
    assert s["event_count"] == len(ev)
    assert s["first_timestamp_us"] == ev["t"][0] and s["last_timestamp_us"] == ev["t"][-1]
    assert s["on_fraction"] == pytest.approx(np.mean(ev["p"] == 1))
    dur = (int(ev["t"][-1]) - int(ev["t"][0])) / 1e6
    assert s["event_rate_ev_per_s"] == pytest.approx(len(ev) / dur)
    assert s["metadata"]["serial_number"] == "00050567"


def test_info_text(data_dir, capsys):
    assert main(["info", str(data_dir / RAW), "-q"]) == 0
    out = capsys.readouterr().out
    assert "1280x720" in out and "evt3" in out and "% ON" in out


@pytest.mark.parametrize("ext", [".dat", ".hdf5", ".npy", ".csv", ".raw"])
def test_convert_round_trip(data_dir, tmp_path, ext):
    out = tmp_path / f"out{ext}"
    assert main(["convert", str(data_dir / RAW), str(out), "-q"]) == 0
    want = read_events(data_dir / RAW)
    kw = {"geometry": (1280, 720)} if ext in (".npy", ".csv") else {}
    got = read_events(out, **kw)
    for f in "xypt":
        np.testing.assert_array_equal(got[f], want[f])


def test_convert_time_range(data_dir, tmp_path):
    ev = read_events(data_dir / RAW)
    t0, t1 = int(ev["t"][1000]), int(ev["t"][5000])
    out = tmp_path / "cut_td.dat"
    assert main(["convert", str(data_dir / RAW), str(out), "--start", str(t0), "--end", f"{t1}us", "-q"]) == 0
    got = read_events(out)
    want = ev[(ev["t"] >= t0) & (ev["t"] < t1)]
    np.testing.assert_array_equal(got["t"], want["t"])
    np.testing.assert_array_equal(got["x"], want["x"])


def test_render_writes_a_video(data_dir, tmp_path):
    cv2 = pytest.importorskip("cv2")
    out = tmp_path / "v.mp4"
    assert main(["render", str(data_dir / RAW), str(out), "--fps", "100", "--accumulation-ms", "20",
                 "--end", "11.3s", "-q"]) == 0
    cap = cv2.VideoCapture(str(out))
    n = 0
    lit = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        lit = max(lit, int(np.count_nonzero(frame.max(axis=2) > 120)))
    ev = read_events(data_dir / RAW)
    expected = int(np.ceil((11_300_000 - int(ev["t"][0])) / 10_000))
    assert abs(n - expected) <= 1
    assert lit > 200  # ON/OFF pixels drawn over the dark background (its channels are all below 60)


def test_errors_exit_2_with_the_file_named(tmp_path, capsys):
    bad = tmp_path / "bad.raw"
    bad.write_bytes(b"% evt 3.0\n% format EVT3;height=10;width=10\n% end\n\x01")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.raw" in err and "byte" in err
    assert main(["info", str(tmp_path / "missing.raw")]) == 2


def test_formats_lists_every_format(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in ("raw", "dat", "hdf5", "aedat4", "aedat", "npy", "text"):
        assert name in out
