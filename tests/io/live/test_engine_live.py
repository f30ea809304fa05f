"""The viewer's engine (Qt-free) on a live source: when it is behind the camera, the newest data
wins the display (frames read but not drawn, counted) while the recording keeps every event; a
stop never waits on a silent camera; a disconnect closes the recording with the reason."""

from __future__ import annotations

import threading
import time

import numpy as np

from spikesight.app.engine import LIVE_MAX_BACKLOG_US, LIVE_MIN_DRAW_S, EngineSettings, PlaybackEngine
from spikesight.app.frames import Outbox
from spikesight.app.record import Recorder
from spikesight.io import concat_events, make_events, open_writer, read_events
from spikesight.io.live import SourceDisconnected

from .test_base import ScriptedSource, wait_until

WAIT_S = 30.0


def batches(n: int, per: int = 50, step_us: int = 1_000) -> list[np.ndarray]:
    """``n`` batches, one per ``step_us`` of camera time, ``per`` events each."""
    out = []
    for i in range(n):
        k = np.arange(per)
        out.append(make_events(k % 64, (k + i) % 48, k % 2, 10_000 + i * step_us + k * (step_us // per)))
    return out


class EngineRun:
    """The engine in a plain thread (recording from its first frame when ``recorder`` is given)."""

    def __init__(self, factory, settings: EngineSettings, recorder: Recorder | None = None) -> None:
        self.outbox = Outbox(max_frames=100_000)
        self.posted: list = []
        self.engine = PlaybackEngine(factory, self.outbox, (), settings,
                                     on_event=lambda k, p: self.posted.append((k, p)))
        self.engine.set_playing(True)
        if recorder is not None:
            self.engine.start_recording(recorder)  # applied before the first frame is read
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.engine.run()
        except BaseException as exc:
            self.error = exc


def test_behind_the_camera_frames_are_dropped_but_every_event_is_recorded(tmp_path):
    sent = batches(2_000)  # 2 s of camera time, all queued before the engine reads any
    src = ScriptedSource(sent)
    wait_until(lambda: src.ended is not None)
    path = tmp_path / "rec.npy"
    t0 = time.monotonic()
    run = EngineRun(lambda: src, EngineSettings(period_us=33_333, accumulation_us=20_000),
                    Recorder(open_writer(path, 64, 48)))
    run.thread.join(WAIT_S)
    elapsed = time.monotonic() - t0
    assert not run.thread.is_alive()
    assert isinstance(run.error, SourceDisconnected)
    kinds = [k for k, _ in run.posted]
    assert kinds[0] == "opened" and run.posted[0][1].live
    [info] = [p for k, p in run.posted if k == "recording"]
    assert info["reason"].startswith("source disconnected") and info["lost"] == 0
    np.testing.assert_array_equal(read_events(path), concat_events(sent))
    frames = run.outbox.take().frames
    dropped = run.outbox.dropped_frames
    assert len(frames) == run.engine.frames_made  # every frame drawn was shown; the rest dropped
    # far behind, a frame is drawn only every LIVE_MIN_DRAW_S; the rest are near the newest event
    newest = int(sent[-1]["t"][-1])
    far = [f for f in frames if newest - f.t_end >= LIVE_MAX_BACKLOG_US + 33_333]
    assert len(far) <= 1 + int(elapsed / LIVE_MIN_DRAW_S)
    assert len(frames) - len(far) <= (LIVE_MAX_BACKLOG_US + 33_333) // 33_333 + 1
    assert dropped > 40


def test_events_the_source_dropped_are_reported_with_the_recording(tmp_path):
    sent = batches(100)
    src = ScriptedSource(sent, max_queued_events=1_000)  # holds 20 of the 100 batches
    wait_until(lambda: src.ended is not None)
    path = tmp_path / "rec.npy"
    run = EngineRun(lambda: src, EngineSettings(), Recorder(open_writer(path, 64, 48)))
    run.thread.join(WAIT_S)
    [info] = [p for k, p in run.posted if k == "recording"]
    # dropped before the recording began: the engine saw the count when the recording started
    assert info["lost"] == 0 and info["events"] == 1_000 == len(read_events(path))
    assert src.dropped_events == 4_000


def test_stopping_never_waits_on_a_silent_camera():
    src = ScriptedSource(batches(100), finish="hold")  # 100 ms of events, then connected and silent
    run = EngineRun(lambda: src, EngineSettings())
    wait_until(lambda: run.engine.frames_made >= 1)
    t0 = time.monotonic()
    run.engine.stop()
    run.thread.join(WAIT_S)
    assert not run.thread.is_alive() and time.monotonic() - t0 < WAIT_S / 2
    assert run.error is None
    assert "ended" not in [k for k, _ in run.posted]  # a stop is not the end of the stream
    assert src.released.is_set()


def test_a_live_recording_that_cannot_keep_up_counts_what_it_left_out(tmp_path):
    sent = batches(200)
    src = ScriptedSource(sent)
    wait_until(lambda: src.ended is not None)
    gate = threading.Event()

    class SlowWriter:
        """Wraps a writer so that its first write waits for the gate (a disk that stalls)."""

        def __init__(self, inner) -> None:
            self.inner, self.path = inner, inner.path

        def write(self, events) -> None:
            gate.wait(WAIT_S)
            self.inner.write(events)

        @property
        def count(self) -> int:
            return self.inner.count

        def close(self) -> None:
            self.inner.close()

    path = tmp_path / "rec.npy"
    rec = Recorder(SlowWriter(open_writer(path, 64, 48)), max_pending=2_000)
    run = EngineRun(lambda: src, EngineSettings(), rec)
    wait_until(lambda: rec.dropped > 0)  # the engine went on while the disk stalled
    gate.set()
    run.thread.join(WAIT_S)
    [info] = [p for k, p in run.posted if k == "recording"]
    assert info["lost"] == rec.dropped > 0
    assert info["events"] + info["lost"] == sum(len(b) for b in sent) == 10_000
    assert len(read_events(path)) == info["events"]
