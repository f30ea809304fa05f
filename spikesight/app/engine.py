"""The playback engine: source in, rendered frames and pipeline results out, free of Qt.

:class:`PlaybackEngine.run` is the worker thread's loop. It reads the source one frame period
at a time (``next_slice(delta_t=...)``, so empty frames come too), keeps the last accumulation
time of events, renders the frame, cuts each running pipeline's windows and queues them to the
:class:`~.pipeline_stage.PipelineStage`, feeds a recording, and puts the frame in the GUI's
:class:`~.frames.Outbox`. Replaying a file, it paces frames to the display rate of wall-clock
time (or goes as fast as it can); a live source paces itself. A pipeline slower than that never
holds the replay up: its oldest waiting window is dropped (counted), as on a live stream, unless
``every_window`` asks the player to wait for it (offline rendering). In real time the pipelines'
thread runs at a lower priority, so the display comes first when the CPU is short. The pipelines are warmed up
(one dummy window, then reset) when the stream opens, before its first frame. Commands from the
GUI (play, pause, seek, new settings, recording) are thread-safe and take effect before the next
frame.

A live source that has more unread camera time than :data:`LIVE_MAX_BACKLOG_US` has its frames
read (recorded, fed to pipelines) but not drawn (but for one every :data:`LIVE_MIN_DRAW_S`),
counted as dropped, until it catches up. A live recording never holds the engine up: events the
recorder had no room for, and those the source dropped while it ran, are reported with it
(``"lost"``). ``stop``
interrupts a live source waiting for its camera, so it never hangs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io.events import EVENT_DTYPE
from ..io.info import StreamInfo
from ..io.live.base import SourceDisconnected
from ..io.source import EventSlice, EventSource
from ..perception.pipelines import Pipeline
from . import groundtruth
from .frames import Frame, Outbox
from .noise import BackgroundActivityFilter
from .pipeline_stage import REAL_TIME_NICE, PipelineStage, Windower
from .record import Recorder
from .render import render

log = logging.getLogger(__name__)

#: A pacing clock more than this far behind starts again from now instead of catching up.
MAX_LAG_S = 0.25
#: A live source with more unread camera time than this (µs, or three frame periods if more)
#: has frames read without being drawn until it catches up: the newest data wins the display.
LIVE_MAX_BACKLOG_US = 100_000
#: ... but one frame is drawn at least this often (s), however far behind.
LIVE_MIN_DRAW_S = 0.5
#: What :meth:`PlaybackEngine._frame_to` returns for a live frame read but not drawn.
_SKIPPED: Any = object()


class PipelineError(RuntimeError):
    """A pipeline failed while playing; the original exception is the cause."""


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs from the player model (see :meth:`from_model`)."""

    accumulation_us: int = 20_000
    period_us: int = 33_333
    display_fps: float = 30.0
    paced: bool = True
    palette: str = "dark"
    decay: str = "none"
    loop: bool = False
    noise_filter_us: int = 0
    tasks: frozenset[str] = frozenset()
    #: Replaying a file, wait for the pipelines to take each window (none is dropped).
    every_window: bool = False

    @classmethod
    def from_model(cls, model: Any) -> EngineSettings:
        """From a :class:`~.model.PlayerModel`; a task runs while its panel is on."""
        return cls(
            accumulation_us=model.accumulation_us,
            period_us=model.period_us,
            display_fps=model.display_fps,
            paced=not model.fastest,
            palette=model.palette,
            decay=model.decay,
            loop=model.loop,
            noise_filter_us=model.noise_filter_us,
            tasks=frozenset(model.panels),
            every_window=model.every_window,
        )


@dataclass
class Opened:
    """Posted (``on_event("opened", ...)``) once the source is open and its extent known."""

    info: StreamInfo
    start_time: int | None
    end_time: int | None
    live: bool
    first_frame: int | None
    pipelines: list[str] = field(default_factory=list)
    #: Names of the ground-truth boxes' classes, by class id (``()``: label them by number).
    ground_truth_classes: tuple[str, ...] = ()


class PlaybackEngine:
    """Plays one source into an :class:`Outbox`; call :meth:`run` in a worker thread.

    ``open_source`` is called in that thread (so a slow open or scan never blocks the GUI).
    ``on_event(kind, payload)`` reports ``"opened"`` (:class:`Opened`), ``"ended"``,
    ``"looped"`` and ``"recording"`` (a dict), from the worker thread. Errors propagate out of
    :meth:`run` (a pipeline's as :class:`PipelineError`). ``warm_up``: step each pipeline once on
    a dummy window (then reset it) before the first frame.
    """

    def __init__(self, open_source: Callable[[], EventSource], outbox: Outbox,
                 pipelines: Sequence[Pipeline] = (), settings: EngineSettings | None = None,
                 on_event: Callable[[str, Any], None] | None = None, source_path: str | None = None,
                 skip_ahead: bool = True, warm_up: bool = True) -> None:
        self._open_source = open_source
        self.outbox = outbox
        self.pipelines = list(pipelines)
        self.settings = settings or EngineSettings()
        self.on_event = on_event or (lambda kind, payload: None)
        self.source_path = source_path
        self.skip_ahead = skip_ahead
        self.warm_up = warm_up
        self.done = threading.Event()
        self.info: StreamInfo | None = None
        self.seekable = False
        self.frames_made = 0
        self._cond = threading.Condition()
        self._pending: dict[str, Any] = {}
        self._playing = False
        self._ended = False
        self._stopping = False
        self._epoch = 0
        self._src: EventSource | None = None
        self._stage: PipelineStage | None = None
        self._windowers: dict[int, Windower] = {}
        self._filter: BackgroundActivityFilter | None = None
        self._recorder: Recorder | None = None
        self._gt: np.ndarray | None = None
        self._recent: deque[tuple[int, int, np.ndarray]] = deque()
        self._rec_dropped0 = 0
        self._last_draw = 0.0
        self._close_reason = "closed"
        self._cursor: int | None = None
        self._frame_t: int | None = None
        self._fed_until: int | None = None
        self._n_on = self._n_off = 0
        self._span = 0
        self._due: float | None = None

    # -- commands (any thread) ---------------------------------------------------------------

    def _command(self, **kw: Any) -> None:
        with self._cond:
            self._pending.update(kw)
            self._cond.notify_all()

    def configure(self, settings: EngineSettings) -> None:
        self._command(settings=settings)

    def set_playing(self, playing: bool) -> None:
        with self._cond:
            self._playing = bool(playing)
            if playing and self.seekable:
                self._ended = False  # a file plays again from where it is
            self._due = None
            self._cond.notify_all()

    def seek(self, t: int) -> int:
        """Show the frame ending at ``t`` next; returns the epoch its frames will carry."""
        with self._cond:
            self._epoch += 1
            self._pending["seek"] = (int(t), self._epoch)
            self._cond.notify_all()
            return self._epoch

    @property
    def epoch(self) -> int:
        with self._cond:
            return self._epoch

    def start_recording(self, recorder: Recorder) -> None:
        """Write every event played from the next frame on to ``recorder``."""
        self._hand_recorder(recorder)

    def stop_recording(self) -> None:
        self._hand_recorder(None)

    def _hand_recorder(self, recorder: Recorder | None) -> None:
        """Queue the recording command; a recorder that was started and then stopped or replaced
        before this engine's thread took it is closed here (and reported), never left open."""
        with self._cond:
            untaken = self._pending.get("record")
            self._pending["record"] = recorder
            self._cond.notify_all()
        if untaken is not None:
            self._close_recorder(untaken, "stopped" if recorder is None else "replaced", 0)

    def stop(self) -> None:
        """Ask :meth:`run` to return (it closes the source and any recording)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._stage is not None:
            self._stage.cancel()
        interrupt = getattr(self._src, "interrupt", None)
        if interrupt is not None:
            interrupt()  # a live source waiting for its camera returns now

    @property
    def dropped_windows(self) -> int:
        return self._stage.dropped_windows if self._stage is not None else 0

    # -- the loop (worker thread) ------------------------------------------------------------

    def run(self) -> None:
        try:
            self._open()
            if self.seekable:
                self._goto(self._first_frame(), user=True)
            while True:
                with self._cond:
                    idle = self._ended or (not self._playing and self.seekable)
                    if not self._pending and idle and not self._stopping:
                        self._cond.wait(0.25)
                    if self._stopping:
                        break
                    cmds, self._pending = self._pending, {}
                    playing = self._playing
                self._check_stage()
                self._apply(cmds)
                if (playing or not self.seekable) and not self._ended and "seek" not in cmds:
                    # a live stream is read while paused too (recording goes on); the view freezes
                    self._play_one(show=playing)
        except SourceDisconnected as exc:
            self._close_reason = f"source disconnected: {exc.reason}"
            raise
        finally:
            self._close()
            self.done.set()

    def _open(self) -> None:
        src = self._src = self._open_source()
        info = self.info = src.info
        if info.end_time is None and self.source_path is not None and os.path.isfile(self.source_path):
            src.scan()
        if info.start_time is None and info.end_time is not None:
            src.first_timestamp()
        self.seekable = info.start_time is not None and info.end_time is not None
        box_path = groundtruth.boxes_path_for(self.source_path)
        gt_classes: tuple[str, ...] = ()
        if box_path is not None:
            try:
                self._gt = groundtruth.load_boxes(box_path)
                gt_classes = groundtruth.class_names_for(box_path, self._gt)
            except (OSError, ValueError) as exc:
                log.warning("ground truth %s not shown: %s", box_path, exc)
        if self.pipelines:
            if info.width and info.height:
                for p in self.pipelines:
                    if hasattr(p, "set_sensor"):
                        p.set_sensor(info.width, info.height)
            # in real time the display comes first when the CPU is short (every window: no hurry)
            nice = 0 if self.settings.every_window else REAL_TIME_NICE
            self._stage = PipelineStage(self.outbox, self.pipelines, nice=nice)
            self._stage.start()
            if self.warm_up:
                self._stage.warm_up(info.width or 0, info.height or 0, info.start_time or 0,
                                    interrupted=lambda: self._stopping)
        self._set_filter(self.settings.noise_filter_us)
        self.on_event("opened", Opened(info, info.start_time, info.end_time, not self.seekable,
                                       self._first_frame() if self.seekable else None,
                                       [p.task for p in self.pipelines], gt_classes))

    def _first_frame(self) -> int:
        """One period after the first event, or just after the last event if that is sooner."""
        return min(int(self.info.start_time) + self.settings.period_us, int(self.info.end_time) + 1)

    def _close(self) -> None:
        if self._stage is not None:
            self._stage.stop()
        self._finish_recording(self._close_reason, wait=True)
        with self._cond:
            untaken = self._pending.pop("record", None)
        if untaken is not None:
            self._close_recorder(untaken, self._close_reason, 0, wait=True)
        if self._src is not None:
            self._src.close()

    def _check_stage(self) -> None:
        if self._stage is not None and self._stage.error is not None:
            err = self._stage.error
            raise PipelineError(f"pipeline failed: {err}") from err

    def _apply(self, cmds: dict[str, Any]) -> None:
        if "record" in cmds:
            rec = cmds["record"]
            if rec is None:
                self._finish_recording("stopped")
            else:
                self._finish_recording("replaced")
                self._recorder = rec
                self._rec_dropped0 = getattr(self._src, "dropped_events", 0)
        rerender = False
        if "settings" in cmds:
            old, new = self.settings, cmds["settings"]
            self.settings = new
            if new.noise_filter_us != old.noise_filter_us:
                self._set_filter(new.noise_filter_us)
            if new.tasks != old.tasks:
                self._sync_windowers()
            if new.display_fps != old.display_fps or new.paced != old.paced:
                self._due = None
            rerender = (new.accumulation_us, new.palette, new.decay, new.noise_filter_us) != (
                old.accumulation_us, old.palette, old.decay, old.noise_filter_us)
        if "seek" in cmds and self.seekable:
            t, _ = cmds["seek"]
            self._goto(t, user=True)
        elif rerender and self.seekable and self._frame_t is not None:
            self._goto(self._frame_t, user=False)

    def _play_one(self, show: bool = True) -> None:
        s = self.settings
        t_end = None if self._cursor is None else self._cursor + s.period_us
        frame = self._frame_to(t_end)
        if frame is None:
            if not self._stopping:  # not an interrupted live source
                self._at_end()
            return
        if frame is _SKIPPED:
            return
        if self._pace() and show:
            self.outbox.put_frame(frame)

    def _pace(self) -> bool:
        """Wait for the frame's wall-clock time; False when a seek or stop cut the wait short."""
        s = self.settings
        if not s.paced or not self.seekable:
            return True
        with self._cond:
            now = time.monotonic()
            if self._due is None or now - self._due > MAX_LAG_S:
                self._due = now
            while True:
                if self._stopping or "seek" in self._pending:
                    return False
                if self._due is None:  # paused and played again while waiting
                    self._due = time.monotonic()
                remaining = self._due - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._due += 1.0 / s.display_fps
        return True

    def _at_end(self) -> None:
        for p in self._active_pipelines():
            win = self._windowers.get(id(p))
            for w_ev, a, b in win.flush() if win is not None else []:
                self._stage.submit(p, w_ev, a, b, self.epoch, self._waits(), self._interrupted)
        if self.settings.loop and self.seekable:
            with self._cond:
                self._epoch += 1
            self._finish_recording("loop")
            self.on_event("looped", self._epoch)
            self._goto(self._first_frame(), user=True, paced=True)
        else:
            with self._cond:
                self._playing = False
                self._ended = True
            self.on_event("ended", self._frame_t)

    # -- reading and rendering ---------------------------------------------------------------

    def _goto(self, t_end: int, user: bool, paced: bool = False) -> None:
        """Re-read so the next frame ends at ``t_end``, and put that frame (now, or at its
        wall-clock time when ``paced``: a loop goes on at the display rate).

        A user's seek resets the pipelines; a re-render (new accumulation, filter) does not,
        and events before ``_fed_until`` never reach pipelines or recordings twice.
        """
        info = self.info
        t_end = int(t_end)
        self._ended = False
        lo = max(int(info.start_time), t_end - self.settings.accumulation_us)
        self._src.seek(lo)
        self._cursor = lo
        self._recent.clear()
        if self._filter is not None:
            self._filter.reset()
        if user:
            if self._recorder is not None and self._fed_until is not None and lo < self._fed_until:
                self._finish_recording("seek back")
            self._fed_until = lo
            if self._stage is not None:
                self._stage.reset()
            self._windowers.clear()
            self._sync_windowers()
        frame = self._frame_to(t_end) if t_end > lo else None
        if frame is None:
            self._n_on = self._n_off = self._span = 0
            frame = self._render(t_end)
        if paced:
            if self._pace():
                self.outbox.put_frame(frame)
            return
        with self._cond:  # the next frame one display period after this one
            self._due = time.monotonic() + 1.0 / self.settings.display_fps
        self.outbox.put_frame(frame)

    def _frame_to(self, t_end: int | None) -> Frame | None:
        """Read up to ``t_end`` (one period from the start for a live stream) and render."""
        if t_end is None:
            s = self._src.next_slice(delta_t=self.settings.period_us)
        else:
            self._maybe_skip(t_end)
            s = self._src.next_slice(delta_t=t_end - self._cursor)
        if s is None:
            return None
        self._consume(s)
        if self._live_behind() and time.monotonic() - self._last_draw < LIVE_MIN_DRAW_S:
            lo = s.t_end - self.settings.accumulation_us
            while self._recent and self._recent[0][1] <= lo:
                self._recent.popleft()
            self.outbox.count_dropped(1)
            return _SKIPPED
        self._last_draw = time.monotonic()
        return self._render(s.t_end)

    def _live_behind(self) -> bool:
        """A live source is further behind than the display can catch up with frame by frame."""
        backlog = getattr(self._src, "backlog_us", 0) if not self.seekable else 0
        return backlog > max(LIVE_MAX_BACKLOG_US, 3 * self.settings.period_us)

    def _maybe_skip(self, t_end: int) -> None:
        """Fast replay with nothing that needs every event: seek over what no frame shows."""
        lo = t_end - self.settings.accumulation_us
        gap = lo - self._cursor
        if (self.skip_ahead and self.seekable and not self._active_pipelines() and self._recorder is None
                and gap > max(self.settings.accumulation_us, 100_000)):
            self._src.seek(lo)
            self._cursor = lo
            self._recent.clear()
            self._fed_until = lo

    def _consume(self, s: EventSlice) -> None:
        ev = s.events
        self._span = s.t_end - s.t_start
        new = ev
        if self._fed_until is not None and len(ev) and ev["t"][0] < self._fed_until:
            new = ev[np.searchsorted(ev["t"], self._fed_until, side="left"):]
        if self._fed_until is None or s.t_end > self._fed_until:
            if self._recorder is not None:
                self._record(new)
            for p in self._active_pipelines():
                win = self._windowers.get(id(p))
                if win is None:
                    win = self._windowers[id(p)] = Windower(p.window_us, s.t_start)
                for w_ev, a, b in win.feed(new, s.t_end):
                    self._stage.submit(p, w_ev, a, b, self.epoch, self._waits(), self._interrupted)
            self._fed_until = s.t_end
        on = int(np.count_nonzero(ev["p"])) if len(ev) else 0
        self._n_on, self._n_off = on, len(ev) - on
        view = self._filter(ev) if self._filter is not None else ev
        self._recent.append((s.t_start, s.t_end, view))
        self._cursor = s.t_end

    def _render(self, t_end: int) -> Frame:
        s = self.settings
        info = self.info
        lo = t_end - s.accumulation_us
        while self._recent and self._recent[0][1] <= lo:
            self._recent.popleft()
        parts = [ev for _, _, ev in self._recent if len(ev)]
        ev = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.empty(0, EVENT_DTYPE))
        if len(ev) and (ev["t"][0] < lo or ev["t"][-1] >= t_end):
            tt = ev["t"]
            ev = ev[np.searchsorted(tt, lo, side="left"):np.searchsorted(tt, t_end, side="left")]
        image, counts = render(ev, info.width, info.height, t_end, s.accumulation_us, s.palette, s.decay)
        gt = groundtruth.boxes_at(self._gt, t_end) if self._gt is not None else None
        self._frame_t = t_end
        self.frames_made += 1
        return Frame(t_end=t_end, accumulation=s.accumulation_us, period_us=self._span, image=image,
                     counts=counts, n_on=self._n_on, n_off=self._n_off, epoch=self.epoch,
                     ground_truth=gt, wall_time=time.monotonic())

    # -- pipelines, filter, recording ----------------------------------------------------------

    def _active_pipelines(self) -> list[Pipeline]:
        return [p for p in self.pipelines if p.task in self.settings.tasks]

    def _interrupted(self) -> bool:
        return self._stopping or "seek" in self._pending

    def _waits(self) -> bool:
        return self.settings.every_window and self.seekable

    def _sync_windowers(self) -> None:
        """Start windows for pipelines switched on (from the current position, fresh state)."""
        active = {id(p): p for p in self._active_pipelines()}
        for key in list(self._windowers):
            if key not in active:
                del self._windowers[key]
        t0 = self._fed_until if self._fed_until is not None else self._cursor
        for key, p in active.items():
            if key not in self._windowers and t0 is not None:
                self._windowers[key] = Windower(p.window_us, t0)
                self._stage.reset(p)

    def _set_filter(self, window_us: int) -> None:
        info = self.info
        self._filter = (BackgroundActivityFilter(info.width, info.height, window_us)
                        if window_us > 0 and info is not None else None)

    def _record(self, events: np.ndarray) -> None:
        try:
            # a file waits for the disk; a live camera cannot: the recorder counts what it leaves out
            self._recorder.write(events, block=self.seekable)
        except (RuntimeError, ValueError) as exc:
            self._finish_recording(f"failed: {exc}")

    def _finish_recording(self, reason: str, wait: bool = False) -> None:
        rec, self._recorder = self._recorder, None
        if rec is None:
            return

        # events a live source dropped while this recording ran (it fell behind the camera)
        lost = max(0, getattr(self._src, "dropped_events", 0) - self._rec_dropped0)
        self._close_recorder(rec, reason, lost, wait)

    def _close_recorder(self, rec: Recorder, reason: str, lost: int, wait: bool = False) -> None:
        """Close ``rec`` (here when ``wait``, else in a thread of its own) and report it."""

        def close() -> None:
            rec.close()
            self.on_event("recording", {"path": rec.path, "events": rec.count, "reason": reason,
                                        "lost": lost + getattr(rec, "dropped", 0),
                                        "time_offset_us": getattr(rec, "time_offset_us", 0),
                                        "error": None if rec.error is None else str(rec.error)})

        if wait:
            close()
        else:
            # closing waits for the disk: not in this thread, which must keep making frames
            threading.Thread(target=close, name="spikesight-recording-close", daemon=True).start()

