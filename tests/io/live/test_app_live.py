"""The viewer on a live ``dv-net:`` stream (a real dv-processing NetworkWriter in a subprocess),
under pytest-qt: it plays live, records, survives the stream dying (a notice, the recording
closed and readable, not one event lost or doubled), and reconnects when the stream comes back:
on F5, or by itself with back-off in kiosk mode. The longest GUI stall is measured throughout."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("dv_processing")
from PySide6.QtCore import QTimer

from spikesight.io import open_source, read_events
from spikesight.io.raw_header import T0_KEY

from .dv_stream_server import BATCH_US, T0, known_events

WAIT = 30_000  # ms: generous for a loaded two-core machine
#: The longest the GUI thread may go without running its event loop (s); measured, then bounded.
MAX_STALL_S = 2.0
STREAM = ("--batches", "4000", "--size", "100", "--interval", "0.005", "--after", "hold", "--hold", "5")


class StallMeter:
    """Ticks every 10 ms on the GUI thread; ``longest`` is the longest gap seen while running."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last: float | None = None
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._last is not None:
            self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = None
        self.longest = 0.0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def playing_live(win, more_than: int = 5):
    shown = win.stats.frames_shown
    return lambda: win.model.live and win.model.playing and win.stats.frames_shown > shown + more_than


def known_run(first_t: int, n: int) -> np.ndarray:
    """The ``n`` events the server sent from the one at ``first_t`` on, as (x, y, p, t) rows."""
    i0, k0 = divmod(first_t - T0, BATCH_US)
    assert k0 % 7 == 0
    rows, i, k = [], i0, k0 // 7
    while sum(len(r) for r in rows) < n:
        c = known_events(i, 100, 64, 48)
        rows.append(np.stack([c["x"], c["y"], c["p"], c["t"]], axis=1)[k:])
        i, k = i + 1, 0
    return np.concatenate(rows)[:n]


def test_plays_records_survives_the_stream_dying_and_reconnects(make_window, qtbot, dv_server, tmp_path):
    server = dv_server(*STREAM)
    uri = f"dv-net:127.0.0.1:{server.port}"
    win = make_window(size=(900, 600))
    finished = []
    win.worker.recording_finished.connect(finished.append)
    meter = StallMeter()
    meter.start()
    win.open_source(uri)
    qtbot.waitUntil(playing_live(win), timeout=WAIT)
    assert win.event_view.frame is not None and win.event_view.frame.t_end > T0
    path = tmp_path / "live.raw"
    assert win.start_recording(path)
    qtbot.waitUntil(playing_live(win, 10), timeout=WAIT)
    server.kill()  # the stream dies mid-recording
    qtbot.waitUntil(lambda: win.notice.level == "error" and "Stream lost" in win.notice.text(), timeout=WAIT)
    assert "F5" in win.notice.text()
    qtbot.waitUntil(lambda: win.recorder is None, timeout=WAIT)
    meter.stop()
    stall_playing = meter.longest

    [info] = finished
    assert info["reason"].startswith("source disconnected") and info["lost"] == 0 and info["error"] is None
    # RAW holds 2**40 µs: the epoch clock is written from the recording's first event, and said so
    offset = info["time_offset_us"]
    assert offset >= T0
    back = read_events(path)  # closed properly: strict reading accepts it
    with open_source(path) as src:
        assert int(src.info.metadata[T0_KEY]) == offset  # and the file keeps the offset
    assert len(back) == info["events"] >= 1_000
    rows = np.stack([back["x"], back["y"], back["p"], back["t"] + offset], axis=1).astype(np.int64)
    np.testing.assert_array_equal(rows, known_run(int(rows[0, 3]), len(rows)))  # nothing lost or doubled

    again = dv_server("--port", str(server.port), *STREAM)
    assert again.port == server.port
    meter.start()
    win.reconnect_action.trigger()
    qtbot.waitUntil(lambda: "Reconnected" in win.notice.text(), timeout=WAIT)
    qtbot.waitUntil(playing_live(win), timeout=WAIT)
    meter.stop()
    print(f"longest GUI stall: {stall_playing * 1e3:.0f} ms playing and recording, "
          f"{meter.longest * 1e3:.0f} ms reconnecting")
    assert max(stall_playing, meter.longest) < MAX_STALL_S


def test_kiosk_reconnects_by_itself_with_back_off(make_window, qtbot, dv_server):
    server = dv_server(*STREAM)
    win = make_window(size=(900, 600), kiosk=True, restart_delay_s=0.05)
    delays = []
    win.worker.failed.connect(lambda _exc: delays.append(win._restart_timer.interval()))
    meter = StallMeter()
    meter.start()
    win.open_source(f"dv-net:127.0.0.1:{server.port}")
    qtbot.waitUntil(playing_live(win), timeout=WAIT)
    server.kill()
    qtbot.waitUntil(lambda: len(delays) >= 4, timeout=WAIT)  # the death, then refused reconnections
    assert delays[:4] == [50, 100, 200, 400]
    assert "Reconnecting in" in win.notice.text()
    meter.stop()
    again = dv_server("--port", str(server.port), *STREAM)
    meter.start()
    qtbot.waitUntil(lambda: "Reconnected" in win.notice.text(), timeout=WAIT)
    qtbot.waitUntil(playing_live(win), timeout=WAIT)
    meter.stop()
    assert again.proc.poll() is None
    assert win._live_failures == 0  # the back-off starts again after a success
    assert meter.longest < MAX_STALL_S


def test_the_source_picker_lists_every_back_ends_cameras(make_window, qtbot, monkeypatch):
    from spikesight.app import main_window
    from spikesight.io.live import BackendReport, LiveDevice

    evk4 = LiveDevice("prophesee:00051A2B", "prophesee", "Prophesee EVK4", "00051A2B")
    reports = [BackendReport("dv", True, [LiveDevice("dv:DXA00093", "dv", "DVXPLORER", "DXA00093")]),
               BackendReport("prophesee", True, [evk4]),
               BackendReport("metavision", False, note="needs the Metavision SDK")]
    monkeypatch.setattr(main_window, "scan", lambda: reports)
    win = make_window(size=(900, 600))
    opened = []
    monkeypatch.setattr(win, "open_source", opened.append)
    win.find_cameras()
    qtbot.waitUntil(lambda: not win._scanning, timeout=WAIT)
    texts = [a.text() for a in win.camera_menu.actions() if a.text()]
    assert texts[:2] == ["DVXPLORER DXA00093 (dv:DXA00093)", "Prophesee EVK4 00051A2B (prophesee:00051A2B)"]
    assert "metavision: not installed" in texts
    next(a for a in win.camera_menu.actions() if "prophesee:" in a.text()).trigger()
    assert opened == ["prophesee:00051A2B"]
