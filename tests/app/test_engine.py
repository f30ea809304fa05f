"""The playback engine without Qt: constant frame rate, seeking, pipelines, drops, loops, recording."""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

from spikesight.app.engine import EngineSettings, PipelineError, PlaybackEngine
from spikesight.app.frames import Frame, Outbox
from spikesight.app.pipeline_stage import REAL_TIME_NICE, Windower
from spikesight.app.record import Recorder
from spikesight.io import make_events, open_writer, read_events
from spikesight.io.memory import ArraySource
from spikesight.io.video import render_frame

from .fakes import FailingSource, FakeDetector

W, H = 64, 48


def wait_for(cond, timeout=30.0):  # generous: CI machines are slow and shared
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.002)


class Run:
    """An engine in a plain thread, with everything it posts collected."""

    def __init__(self, events, settings, pipelines=(), max_frames=100_000, source=None, **kw):
        self.events = events
        self.outbox = Outbox(max_frames=max_frames, max_results=100_000)
        self.posted = []
        self.engine = PlaybackEngine(source or (lambda: ArraySource(events, W, H, chunk_size=500)),
                                     self.outbox, pipelines, settings,
                                     on_event=lambda k, p: self.posted.append((k, p)), **kw)
        self.error = None
        self.frames: list[Frame] = []
        self.results = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.engine.run()
        except BaseException as exc:
            self.error = exc

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.engine.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def drain(self, min_epoch=0):
        b = self.outbox.take(min_epoch)
        self.frames += b.frames
        self.results += b.results
        return b

    def kinds(self):
        return [k for k, _ in self.posted]


FAST = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False)


def test_frames_come_at_a_constant_rate_through_a_gap_and_show_the_accumulated_events():
    t = np.r_[np.arange(0, 100_000, 100), np.arange(600_000, 700_000, 100)] + 5_000_000
    n = len(t)
    ev = make_events(np.arange(n) % W, (np.arange(n) // W) % H, np.arange(n) % 2, t)
    settings = EngineSettings(accumulation_us=15_000, period_us=10_000, paced=False)
    with Run(ev, settings) as r:
        r.engine.set_playing(True)
        wait_for(lambda: r.drain() is not None and "ended" in r.kinds())
        r.drain()
    ends = [f.t_end for f in r.frames]
    assert ends[0] == 5_010_000
    assert np.all(np.diff(ends) == 10_000)
    assert ends[-1] >= int(t[-1]) + 1
    empty = [f for f in r.frames if 5_120_000 <= f.t_end <= 5_600_000]
    assert empty and all(f.counts.sum() == 0 for f in empty)
    for f in r.frames[::7]:
        sel = ev[(ev["t"] >= f.t_end - 15_000) & (ev["t"] < f.t_end)]
        np.testing.assert_array_equal(f.image, render_frame(sel, W, H, "dark"))
        assert f.counts.sum() == len(sel)


def test_seek_shows_the_frame_at_the_target_with_a_new_epoch(dot_events):
    with Run(dot_events, FAST) as r:
        wait_for(lambda: r.drain().frames or r.frames)
        t0 = int(dot_events["t"][0])
        assert r.frames[0].t_end == t0 + 10_000
        epoch = r.engine.seek(1_500_000)
        wait_for(lambda: r.drain(epoch).frames)
    f = r.frames[-1]
    assert f.t_end == 1_500_000 and f.epoch == epoch > 0
    sel = dot_events[(dot_events["t"] >= 1_490_000) & (dot_events["t"] < 1_500_000)]
    assert f.counts.sum() == len(sel)
    opened = r.posted[0][1]
    assert opened.start_time == t0 and opened.end_time == int(dot_events["t"][-1]) and not opened.live


def test_a_new_accumulation_rerenders_the_paused_frame(dot_events):
    with Run(dot_events, FAST) as r:
        r.engine.seek(1_500_000)
        wait_for(lambda: r.drain() and any(f.t_end == 1_500_000 for f in r.frames))
        r.engine.configure(EngineSettings(accumulation_us=100_000, period_us=10_000, paced=False))
        wait_for(lambda: r.drain() and r.frames[-1].accumulation == 100_000)
    f = r.frames[-1]
    sel = dot_events[(dot_events["t"] >= 1_400_000) & (dot_events["t"] < 1_500_000)]
    assert f.t_end == 1_500_000 and f.counts.sum() == len(sel)


def test_pipelines_get_every_window_once_when_waited_for(dot_events):
    det = FakeDetector(window_us=30_000)
    settings = EngineSettings(accumulation_us=10_000, period_us=7_000, paced=False,
                              tasks=frozenset({"detection"}), every_window=True)
    with Run(dot_events, settings, [det], warm_up=False) as r:
        r.engine.set_playing(True)
        wait_for(lambda: "ended" in r.kinds())
        wait_for(lambda: r.engine._stage.idle())
        r.drain()
    starts = [w[0] for w in det.windows]
    assert starts[0] == int(dot_events["t"][0])
    assert np.all(np.diff(starts) == 30_000)
    # every event exactly once, in the window that covers its time
    assert sum(w[2] for w in det.windows) == len(dot_events)
    for a, b, n in det.windows[::5]:
        assert n == np.count_nonzero((dot_events["t"] >= a) & (dot_events["t"] < b))
    assert len(r.results) == len(det.windows)
    assert r.engine.dropped_windows == 0


def test_a_slow_pipeline_drops_windows_instead_of_queueing_them(dot_events):
    det = FakeDetector(window_us=1_000, delay_s=0.02)
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False,
                              tasks=frozenset({"detection"}))
    with Run(dot_events, settings, [det], max_frames=3, warm_up=False) as r:
        stage_sizes = []
        r.engine.set_playing(True)
        while "ended" not in r.kinds():
            stage_sizes.append(r.engine._stage.queued if r.engine._stage else 0)
            r.drain()
            time.sleep(0.001)
        r.drain()
    assert max(stage_sizes) <= r.engine._stage.max_waiting == 1  # one window waits: results stay fresh
    assert r.engine.dropped_windows > 0
    assert det.steps + r.engine.dropped_windows <= 2000
    # the display went on: frames up to the end of the stream came out
    assert r.frames[-1].t_end > 2_900_000


def _replay(events, every_window: bool, seconds: float = 1.2):
    """Replay at 1x (20 ms frames at 50 FPS) with a pipeline three times slower than the stream
    (30 ms for each 10 ms window); returns the run, the event time played per wall second and the
    pipeline's windows."""
    det = FakeDetector(window_us=10_000, delay_s=0.03)
    settings = EngineSettings(accumulation_us=20_000, period_us=20_000, paced=True, display_fps=50,
                              tasks=frozenset({"detection"}), every_window=every_window)
    with Run(events, settings, [det], warm_up=False) as r:
        wait_for(lambda: r.drain().frames or r.frames)
        r.engine.set_playing(True)
        time.sleep(seconds)
        r.drain()
    played = r.frames[1:]
    speed = (played[-1].t_end - played[0].t_end) / 1e6 / (played[-1].wall_time - played[0].wall_time)
    return r, speed, list(det.windows)


def test_a_file_replays_in_real_time_past_a_slow_pipeline(dot_events):
    r, speed, windows = _replay(dot_events, every_window=False)
    assert speed > 0.75  # near 1x, where waiting for the pipeline would give 1/3x
    assert r.engine.dropped_windows > 0
    # each window processed or dropped, none twice; the results come out fresh (at most about two
    # windows behind the newest one cut, as one waits while one is processed)
    assert len(set(windows)) == len(windows)
    n_cut = (r.frames[-1].t_end - int(dot_events["t"][0])) // 10_000
    assert len(windows) + r.engine.dropped_windows >= n_cut - 2
    assert len(windows) < n_cut / 2


class _Skipping(FakeDetector):
    """A slow detector that also takes the events of dropped windows (``skip``)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.skipped: list[tuple[int, int, int]] = []

    def skip(self, events, t_start, t_end):
        with self.lock:
            self.skipped.append((t_start, t_end, len(events)))


def test_dropped_windows_still_reach_a_pipeline_that_skips(dot_events):
    det = _Skipping(window_us=1_000, delay_s=0.02)
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False,
                              tasks=frozenset({"detection"}))
    with Run(dot_events, settings, [det], max_frames=3, warm_up=False) as r:
        r.engine.set_playing(True)
        while "ended" not in r.kinds():
            r.drain()
            time.sleep(0.001)
        wait_for(lambda: r.engine._stage is None or r.engine._stage.idle())
    assert r.engine.dropped_windows > 0 and det.skipped  # some merged: fewer skips than drops
    spans = sorted([(a, b, n) for a, b, n in det.windows] + det.skipped)
    # stepped and skipped spans tile the stream: no gap, no overlap, every event handed over once
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    assert spans[0][0] == int(dot_events["t"][0])
    assert sum(n for _, _, n in spans) == int(np.count_nonzero(dot_events["t"] < spans[-1][1]))


def test_every_window_mode_waits_for_a_slow_pipeline(dot_events):
    r, speed, windows = _replay(dot_events, every_window=True)
    assert speed < 0.6  # the pipeline's pace (1/3x, on an unloaded machine)
    assert r.engine.dropped_windows == 0
    starts = [w[0] for w in windows]
    assert starts[0] == int(dot_events["t"][0]) and np.all(np.diff(starts) == 10_000)


class _Niceness(FakeDetector):
    """Records its thread's nice value at each step."""

    def step(self, events, t_start, t_end):
        self.nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return super().step(events, t_start, t_end)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
@pytest.mark.parametrize("every_window", [False, True])
def test_in_real_time_the_pipeline_thread_yields_to_the_display(dot_events, every_window):
    det = _Niceness(window_us=10_000)
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # threads inherit it
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False,
                              tasks=frozenset({"detection"}), every_window=every_window)
    with Run(dot_events, settings, [det], warm_up=False) as r:
        r.engine.set_playing(True)
        wait_for(lambda: det.steps >= 2)
    assert det.nice == (base if every_window else min(19, base + REAL_TIME_NICE))


class _Recorder:
    """A pipeline that logs each call."""

    task = "detection"
    window_us = 25_000

    def __init__(self):
        self.calls = []

    def step(self, events, t_start, t_end):
        self.calls.append(("step", t_start, t_end, events.copy()))
        return FakeDetector().step(events, t_start, t_end)

    def reset(self):
        self.calls.append(("reset",))


def test_pipelines_are_warmed_up_on_a_dummy_window_and_reset_before_the_first_frame(dot_events):
    rec = _Recorder()
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False,
                              tasks=frozenset({"detection"}), every_window=True)
    opened_after = []
    r = Run(dot_events, settings, [rec])
    r.engine.on_event = lambda k, p: (opened_after.append(len(rec.calls)), r.posted.append((k, p)))
    with r:
        wait_for(lambda: r.drain().frames or r.frames)
        r.engine.set_playing(True)
        wait_for(lambda: sum(c[0] == "step" for c in rec.calls) >= 4)
        r.drain()
    t0 = int(dot_events["t"][0])
    kind, a, b, ev = rec.calls[0]
    assert (kind, a, b) == ("step", t0, t0 + 25_000) and rec.calls[1] == ("reset",)
    assert opened_after[0] >= 2  # warmed up before the stream was reported open
    assert len(ev) > 0 and np.all(np.diff(ev["t"]) >= 0) and ev["t"][0] >= a and ev["t"][-1] < b
    assert ev["x"].max() < W and ev["y"].max() < H and set(ev["p"].tolist()) == {0, 1}
    # the warm-up's result is not shown; the stream's own windows follow from its first event
    steps = [c for c in rec.calls if c[0] == "step"]
    assert [c[1] for c in steps[1:4]] == [t0, t0 + 25_000, t0 + 50_000]
    assert len(r.results) <= len(steps) - 1


def test_the_outbox_drops_the_oldest_frame_and_counts_it():
    wakes = []
    box = Outbox(max_frames=2, on_ready=lambda: wakes.append(1))
    img = np.zeros((1, 1, 3), np.uint8)
    for k in range(5):
        box.put_frame(Frame(k, 1, 1, img, np.zeros((1, 1), np.uint32)))
    assert len(box) == 2 and box.dropped_frames == 3
    assert wakes == [1]  # woken once until the consumer takes
    b = box.take()
    assert [f.t_end for f in b.frames] == [3, 4]
    box.put_frame(Frame(9, 1, 1, img, np.zeros((1, 1), np.uint32), epoch=0))
    box.put_frame(Frame(10, 1, 1, img, np.zeros((1, 1), np.uint32), epoch=2))
    assert wakes == [1, 1]
    assert [f.t_end for f in box.take(min_epoch=1).frames] == [10]


def test_pacing_follows_the_display_rate(dot_events):
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=True, display_fps=50)
    with Run(dot_events, settings) as r:
        wait_for(lambda: r.drain().frames or r.frames)
        r.engine.set_playing(True)
        t0 = time.monotonic()
        wait_for(lambda: r.drain() is not None and len(r.frames) >= 16)
        elapsed = time.monotonic() - t0
    # 15 paced frames at 50 fps take 0.3 s of wall-clock time (timers only ever wait longer)
    assert elapsed >= 0.27


def test_loop_starts_again_with_a_new_epoch():
    ev = make_events([1, 2, 3], [1, 1, 1], [1, 0, 1], [0, 20_000, 40_000])
    with Run(ev, EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False, loop=True)) as r:
        r.engine.set_playing(True)
        wait_for(lambda: r.kinds().count("looped") >= 2)
        r.drain()
    epochs = sorted({f.epoch for f in r.frames})
    assert len(epochs) >= 2
    first = [f.t_end for f in r.frames if f.epoch == epochs[1]]
    assert first[:5] == [10_000, 20_000, 30_000, 40_000, 50_000]


def test_recording_writes_what_is_played_and_reads_back(tmp_path, dot_events):
    path = tmp_path / "rec.raw"
    with Run(dot_events, FAST) as r:
        r.engine.seek(1_200_000)
        wait_for(lambda: r.drain() and any(f.t_end == 1_200_000 for f in r.frames))
        rec = Recorder(open_writer(path, W, H))
        r.engine.start_recording(rec)
        r.engine.set_playing(True)
        wait_for(lambda: "ended" in r.kinds())
        r.engine.stop_recording()
        wait_for(lambda: "recording" in r.kinds())
    info = dict(r.posted)["recording"]
    assert info["error"] is None and info["reason"] == "stopped"
    back = read_events(path)
    want = dot_events[dot_events["t"] >= 1_200_000]
    np.testing.assert_array_equal(back, want)
    assert info["events"] == len(want)


def test_recordings_stopped_or_replaced_before_the_engine_took_them_are_closed(tmp_path, dot_events):
    """Start and stop (or start twice) faster than the engine's thread applies commands: the
    recorders it never took are still closed (their thread ends, their file opens) and reported."""
    r = Run(dot_events, FAST)  # not running yet: no command is taken before these calls
    first, second = (Recorder(open_writer(tmp_path / name, W, H)) for name in ("a.raw", "b.raw"))
    r.engine.start_recording(first)
    r.engine.start_recording(second)
    r.engine.stop_recording()
    wait_for(lambda: r.kinds().count("recording") == 2)
    reports = {p["path"]: p for k, p in r.posted if k == "recording"}
    assert reports[first.path]["reason"] == "replaced" and reports[second.path]["reason"] == "stopped"
    for rec in (first, second):
        assert not rec._thread.is_alive() and rec.error is None
        assert len(read_events(rec.path)) == 0
    third = Recorder(open_writer(tmp_path / "c.raw", W, H))
    with r:
        r.engine.start_recording(third)
    assert not third._thread.is_alive() and dict(r.posted)["recording"]["path"] == third.path


def test_seeking_back_stops_a_recording_and_leaves_a_readable_file(tmp_path, dot_events):
    path = tmp_path / "rec.hdf5"
    with Run(dot_events, FAST) as r:
        r.engine.seek(1_500_000)
        wait_for(lambda: r.drain() and any(f.t_end == 1_500_000 for f in r.frames))
        r.engine.start_recording(Recorder(open_writer(path, W, H)))
        r.engine.set_playing(True)
        wait_for(lambda: r.drain() and r.frames[-1].t_end > 1_700_000)
        r.engine.seek(1_100_000)
        wait_for(lambda: "recording" in r.kinds())
    info = dict(r.posted)["recording"]
    assert info["reason"] == "seek back"
    back = read_events(path)
    assert len(back) == info["events"] > 0
    assert back["t"][0] >= 1_500_000 and np.all(np.diff(back["t"]) >= 0)


def test_errors_end_the_run():
    opened = []
    ev = make_events(np.arange(5000) % W, np.zeros(5000), np.zeros(5000), np.arange(5000) * 100)
    with Run(ev, FAST, source=lambda: FailingSource(ev, W, H, opened)) as r:
        r.engine.set_playing(True)
        wait_for(lambda: r.engine.done.is_set())
    assert isinstance(r.error, OSError)
    det = FakeDetector(window_us=5_000, fail_after=2)
    settings = EngineSettings(accumulation_us=10_000, period_us=10_000, paced=False,
                              tasks=frozenset({"detection"}), every_window=True)
    with Run(ev, settings, [det], warm_up=False) as r:
        r.engine.set_playing(True)
        wait_for(lambda: r.engine.done.is_set())
    assert isinstance(r.error, PipelineError)


def test_fast_replay_skips_unseen_events_only_when_nothing_needs_them(dot_events):
    settings = EngineSettings(accumulation_us=2_000, period_us=300_000, paced=False)
    with Run(dot_events, settings) as r:
        r.engine.set_playing(True)
        wait_for(lambda: "ended" in r.kinds())
        r.drain()
    for f in r.frames:
        sel = dot_events[(dot_events["t"] >= f.t_end - 2_000) & (dot_events["t"] < f.t_end)]
        assert f.counts.sum() == len(sel)


@pytest.mark.parametrize("cuts", [[5, 17, 40], [100], [1, 2, 3, 4]])
def test_windower_cuts_contiguous_windows(cuts):
    ev = make_events(np.zeros(50), np.zeros(50), np.zeros(50), np.arange(50) * 2)
    w = Windower(10, 0)
    out = []
    prev = 0
    for c in cuts:
        sl = ev[(ev["t"] >= prev) & (ev["t"] < c)]
        out += w.feed(sl, c)
        prev = c
    assert [(a, b) for _, a, b in out] == [(k * 10, k * 10 + 10) for k in range(len(out))]
    for e, a, b in out:
        assert e["t"].tolist() == [t for t in range(a, b) if t % 2 == 0 and t < 100]


class LiveLike(ArraySource):
    """A source that does not know its end (as a camera): not seekable, read as it comes, each chunk
    arriving after a pause as a camera delivers them (so the stream is still running when a test
    presses play, however slow the machine)."""

    def __init__(self, events):
        super().__init__(events, W, H, chunk_size=300)
        self.info.end_time = None
        self.info.event_count = None

    def _chunks_from(self, checkpoint):
        for chunk in super()._chunks_from(checkpoint):
            time.sleep(0.01)
            yield chunk


def test_a_live_stream_is_read_while_paused_and_only_shown_while_playing(dot_events):
    with Run(dot_events, FAST, source=lambda: LiveLike(dot_events)) as r:
        wait_for(lambda: r.posted and r.posted[0][0] == "opened")
        assert r.posted[0][1].live and not r.engine.seekable
        r.engine.set_playing(True)
        wait_for(lambda: r.drain() is not None and len(r.frames) >= 5)
        r.engine.set_playing(False)
        r.drain()
        made, shown = r.engine.frames_made, len(r.frames)
        wait_for(lambda: r.engine.frames_made > made + 10 or "ended" in r.kinds())
        r.drain()
        assert len(r.frames) <= shown + 1  # at most the frame that was on its way
    ends = [f.t_end for f in r.frames]
    assert np.all(np.diff(ends[:5]) == 10_000)


def test_the_end_of_a_live_stream_is_reported_once(dot_events):
    with Run(dot_events, FAST, source=lambda: LiveLike(dot_events[:2000])) as r:
        r.engine.set_playing(True)
        wait_for(lambda: "ended" in r.kinds())
        made = r.engine.frames_made
        time.sleep(0.2)  # the engine must now idle, not spin
        assert r.kinds().count("ended") == 1 and r.engine.frames_made == made


def test_a_recording_shorter_than_a_frame_loops_at_the_display_rate():
    ev = make_events([1, 2, 3], [1, 1, 1], [1, 0, 1], [100, 2_000, 7_000])
    settings = EngineSettings(accumulation_us=20_000, period_us=33_333, paced=True, display_fps=50, loop=True)
    with Run(ev, settings) as r:
        r.engine.set_playing(True)
        t0 = time.monotonic()
        wait_for(lambda: r.kinds().count("looped") >= 10)
        elapsed = time.monotonic() - t0
        r.drain()
    assert elapsed >= 8 / 50 * 0.9  # one frame per loop at the display rate (spinning takes ms)
    assert r.frames[0].t_end == 7_001 and r.frames[0].counts.sum() == 3


def test_pipelines_that_take_a_sensor_size_are_told_the_stream_geometry(dot_events):
    det = FakeDetector(window_us=30_000)
    sizes = []
    det.set_sensor = lambda w, h: sizes.append((w, h))
    settings = EngineSettings(accumulation_us=10_000, period_us=7_000, paced=False,
                              tasks=frozenset({"detection"}))
    with Run(dot_events, settings, [det]) as r:
        wait_for(lambda: "opened" in r.kinds())
    assert sizes == [(W, H)]
