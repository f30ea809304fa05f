"""Crash-safe recordings (spikesight.app.journal): every format is recorded as EVT 3.0 RAW until
the recording stops; a RAW target is that file, any other is converted from its journal at
close. Checked here in one process: what is on disk while recording (a crash would leave it),
the epoch-clock offset kept in the header and added back when finishing, finishing a journal cut
mid-word, failures that keep the journal, the lock that tells a live journal from a crashed one,
``spikesight recover``, and the direct fallback for geometries RAW cannot hold."""

from __future__ import annotations

import numpy as np
import pytest

from spikesight.app.journal import (
    RecordingWriter,
    finish_recording,
    in_use,
    journal_path,
    target_of,
    unfinished,
)
from spikesight.app.record import open_recording
from spikesight.cli import main as cli
from spikesight.io import TruncatedError, make_events, open_source, read_events
from spikesight.io.evt3 import Evt3Writer
from spikesight.io.hdf5 import MetavisionH5Writer
from spikesight.io.raw_header import T0_KEY

W, H = 64, 48
EPOCH = 1_700_000_000_000_000  # µs since the epoch, as a DV camera stamps: beyond RAW's 2**40 µs


def stream(n: int = 5000, t_first: int = 1_000) -> np.ndarray:
    t = t_first + np.arange(n, dtype=np.int64) * 37
    return make_events(t % W, (t // W) % H, t % 2, t)


def test_a_recording_to_hdf5_is_a_raw_journal_until_it_stops(tmp_path):
    path = tmp_path / "rec.hdf5"
    ev = stream()
    w = RecordingWriter(path, W, H)
    w.write(ev[:3000])
    w.flush()
    # what a crash now would leave: the journal, readable strictly, and no half-written target
    assert sorted(tmp_path.iterdir()) == [tmp_path / "rec.hdf5.partial.raw"]
    np.testing.assert_array_equal(read_events(journal_path(path)), ev[:3000])
    w.write(ev[3000:])
    w.close()
    assert sorted(tmp_path.iterdir()) == [path]
    np.testing.assert_array_equal(read_events(path), ev)
    assert w.time_offset_us == 0 and w.count == len(ev)


@pytest.mark.parametrize("ext", [".raw", ".hdf5", ".npy"])
def test_an_epoch_clock_is_kept_in_the_header_and_given_back_when_finished(tmp_path, ext):
    path = tmp_path / f"rec{ext}"
    ev = stream(t_first=EPOCH + 123)
    with RecordingWriter(path, W, H) as w:
        w.write(ev[:10])
        raw = w.raw_path
        with open_source(raw) as src:  # mid-recording, as a crash would leave it
            assert int(src.info.metadata[T0_KEY]) == EPOCH + 123
        w.write(ev[10:])
    back = read_events(path)
    if ext == ".raw":  # RAW: times from the first event, the offset in the header and said
        assert w.time_offset_us == EPOCH + 123
        with open_source(path) as src:
            assert int(src.info.metadata[T0_KEY]) == EPOCH + 123
        np.testing.assert_array_equal(back["t"], ev["t"] - (EPOCH + 123))
    else:  # the other formats hold the camera's clock as it is
        assert w.time_offset_us == 0
        np.testing.assert_array_equal(back["t"], ev["t"])
    np.testing.assert_array_equal(back[["x", "y", "p"]], ev[["x", "y", "p"]])


def test_a_recording_that_never_saw_an_event_leaves_an_empty_readable_file(tmp_path):
    path = tmp_path / "empty.hdf5"
    RecordingWriter(path, W, H).close()
    assert sorted(tmp_path.iterdir()) == [path]
    assert len(read_events(path)) == 0


def cut_journal(tmp_path, ev: np.ndarray, drop_bytes: int, t0: int = 0) -> str:
    """The journal a crash leaves for a recording to rec.hdf5 (a RAW file of that name, its
    times relative to ``t0``), less its last ``drop_bytes`` bytes."""
    journal = journal_path(tmp_path / "rec.hdf5")
    rel = ev.copy()
    rel["t"] -= t0
    with Evt3Writer(journal, W, H, header={T0_KEY: t0} if t0 else None) as w:
        w.write(rel)
    data = open(journal, "rb").read()
    with open(journal, "wb") as f:
        f.write(data[: len(data) - drop_bytes])
    return journal


def test_a_journal_cut_mid_word_is_refused_strictly_and_finished_leniently(tmp_path):
    ev = stream()
    journal = cut_journal(tmp_path, ev, 1)  # the last word loses a byte: its event is incomplete
    with pytest.raises(TruncatedError):
        finish_recording(journal)
    assert sorted(tmp_path.iterdir()) == [tmp_path / "rec.hdf5.partial.raw"]  # kept, no leftovers
    assert finish_recording(journal, strict=False) == {"truncated_word": 1}
    back = read_events(tmp_path / "rec.hdf5")
    # the last event's X word was cut: every event before it is there, exactly
    np.testing.assert_array_equal(back, ev[: len(ev) - 1])
    assert sorted(tmp_path.iterdir()) == [tmp_path / "rec.hdf5"]


def test_a_failed_finish_keeps_the_journal_and_leaves_no_partial_target(tmp_path, monkeypatch):
    ev = stream()
    journal = cut_journal(tmp_path, ev, 0)

    def full_disk(self, events):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(MetavisionH5Writer, "_write", full_disk)
    with pytest.raises(OSError, match="No space"):
        finish_recording(journal)
    assert sorted(tmp_path.iterdir()) == [tmp_path / "rec.hdf5.partial.raw"]
    monkeypatch.undo()
    finish_recording(journal)
    np.testing.assert_array_equal(read_events(tmp_path / "rec.hdf5"), ev)


def test_a_journal_being_written_is_locked_and_not_taken_for_a_crashed_one(tmp_path):
    pytest.importorskip("fcntl")
    w = RecordingWriter(tmp_path / "rec.hdf5", W, H)
    w.write(stream(10))
    assert in_use(w.raw_path)
    assert unfinished([w.raw_path]) == []
    with pytest.raises(ValueError, match="still writing"):
        finish_recording(w.raw_path)
    with pytest.raises(ValueError, match="another recording"):
        RecordingWriter(tmp_path / "rec.hdf5", W, H).write(stream(10))
    w.close()
    assert sorted(tmp_path.iterdir()) == [tmp_path / "rec.hdf5"]


def test_journal_names(tmp_path):
    assert target_of("/a/b/rec.hdf5.partial.raw") == "/a/b/rec.hdf5"
    for bad in ("/a/rec.hdf5", "/a/.partial.raw"):
        with pytest.raises(ValueError, match="not a recording journal"):
            target_of(bad)
    (tmp_path / "x.hdf5.partial.raw").write_bytes(b"")
    assert unfinished([str(tmp_path / "x.hdf5.partial.raw"), str(tmp_path / "gone.hdf5.partial.raw"),
                       str(tmp_path / "other.raw")]) == [str(tmp_path / "x.hdf5.partial.raw")]


def test_spikesight_recover_finishes_journals(tmp_path, capsys):
    ev = stream(t_first=EPOCH)
    journal = cut_journal(tmp_path, ev, 0, t0=EPOCH)
    out = tmp_path / "elsewhere.npy"
    assert cli(["recover", journal, "--output", str(out)]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    np.testing.assert_array_equal(read_events(out), ev)  # the camera's clock is back
    assert not (tmp_path / "rec.hdf5.partial.raw").exists()
    assert cli(["recover", str(tmp_path / "rec.hdf5")]) == 2  # not a journal: a clear error
    assert "not a recording journal" in capsys.readouterr().err


def test_recordings_are_crash_safe_unless_raw_cannot_hold_the_geometry(tmp_path):
    rec = open_recording(tmp_path / "a.hdf5", 1280, 720)
    assert isinstance(rec.writer, RecordingWriter)
    rec.close()
    big = open_recording(tmp_path / "b.npy", 4096, 2160)  # RAW holds 2048 pixels a side
    assert not isinstance(big.writer, RecordingWriter)
    big.write(make_events([4000], [2000], [1], [5]))
    big.close()
    assert big.error is None
    assert read_events(tmp_path / "b.npy")[["x", "y"]].tolist() == [(4000, 2000)]
