"""The window and recordings a crash cut short: it remembers each recording it starts until the
recording is finished; at the next start a journal left behind is named in a notice, and
File > Finish unfinished recordings turns it into the file asked for (in a thread: the window
stays responsive), with the camera's clock given back."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from spikesight.app.journal import journal_path
from spikesight.io import read_events
from spikesight.io.evt3 import Evt3Writer
from spikesight.io.memory import ArraySource
from spikesight.io.raw_header import T0_KEY

from .fakes import moving_dot

W, H = 64, 48
WAIT = 30_000  # ms: the first stop may compile kernels on a cold numba cache
EPOCH = 1_700_000_000_000_000


def test_a_recording_cut_short_is_offered_and_finished_at_the_next_start(make_window, qtbot, tmp_path,
                                                                          settings):
    win = make_window(size=None)
    events = moving_dot()
    win.open_source("memory", factory=lambda: ArraySource(events, W, H))
    qtbot.waitUntil(lambda: win.event_view.frame is not None, timeout=WAIT)
    path = tmp_path / "rec.hdf5"
    assert win.start_recording(path)
    journal = journal_path(path)
    assert settings.value("recording/unfinished") in ([journal], journal)  # remembered while it runs
    assert not win.finish_action.isEnabled()  # a journal being written is not a crashed one
    win.stop_recording()
    qtbot.waitUntil(lambda: win.recorder is None, timeout=WAIT)
    assert not settings.value("recording/unfinished")  # finished: forgotten

    # what a crash leaves (a RAW journal on a camera's epoch clock), remembered by the settings
    ev = events.copy()
    with Evt3Writer(journal, W, H, header={T0_KEY: EPOCH}) as w:
        w.write(ev)
    settings.setValue("recording/unfinished", [journal])
    again = make_window(size=None)
    assert "rec.hdf5.partial.raw" in again.notice.text() and again.notice.level == "warning"
    assert again.finish_action.isEnabled()
    again.finish_action.trigger()
    qtbot.waitUntil(lambda: "Finished recordings" in again.notice.text(), timeout=WAIT)
    assert sorted(p.name for p in tmp_path.glob("rec*")) == ["rec.hdf5"]
    back = read_events(path)
    np.testing.assert_array_equal(back["t"], ev["t"] + EPOCH)
    np.testing.assert_array_equal(back[["x", "y", "p"]], ev[["x", "y", "p"]])
    assert not again.finish_action.isEnabled() and not settings.value("recording/unfinished")


def test_kiosk_mode_neither_offers_nor_finishes(make_window, tmp_path, settings):
    journal = journal_path(tmp_path / "k.hdf5")
    with Evt3Writer(journal, W, H):
        pass
    settings.setValue("recording/unfinished", [journal])
    win = make_window(size=None, kiosk=True)
    assert "partial" not in win.notice.text()
    win.finish_unfinished()
    assert not win.finish_action.isEnabled()
    assert (tmp_path / "k.hdf5.partial.raw").exists()
