"""The Qt side of playback: runs a :class:`~.engine.PlaybackEngine` in a superqt thread worker.

:class:`PlayerWorker` observes the :class:`~.model.PlayerModel` and turns its changes into
engine commands; the engine's frames and results wait in a bounded :class:`~.frames.Outbox`,
and the worker emits ``frames_ready`` at most once until the GUI has taken them, so a GUI that
falls behind loses frames (counted) rather than queueing them. Errors end the engine and come
out as ``failed``; the window decides whether to restart (kiosk) or show them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import create_worker

from ..io import open_source
from ..io.source import EventSource
from ..perception.pipelines import Pipeline
from .engine import EngineSettings, Opened, PlaybackEngine
from .frames import Batch, Outbox
from .model import PlayerModel
from .record import Recorder

log = logging.getLogger(__name__)

_ENGINE_FIELDS = ("accumulation_us", "speed", "display_fps", "fastest", "palette", "decay", "loop",
                  "noise_filter_us", "panels", "every_window")


class PlayerWorker(QObject):
    """Owns the engine of the open stream and keeps it in step with the model."""

    frames_ready = Signal()
    opened = Signal(object)
    ended = Signal()
    looped = Signal()
    recording_finished = Signal(object)
    failed = Signal(object)
    _event = Signal(str, object)

    def __init__(self, model: PlayerModel, pipelines: Sequence[Pipeline] = (), max_frames: int = 3,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.pipelines = list(pipelines)
        self.max_frames = max_frames
        self.engine: PlaybackEngine | None = None
        self.outbox: Outbox | None = None
        self.uri: str | None = None
        self._factory: Callable[[], EventSource] | None = None
        self._min_epoch = 0
        self._dropped_before = 0
        self._windows_dropped_before = 0
        self._event.connect(self._on_event)
        pool = QThreadPool.globalInstance()
        # the engine and its pipeline thread run for as long as a stream is open
        pool.setMaxThreadCount(max(pool.maxThreadCount(), 4))
        model.events.playing.connect(self._on_playing)
        model.events.seek.connect(self._on_seek)
        for name in _ENGINE_FIELDS:
            getattr(model.events, name).connect(self._on_settings)

    # -- opening and closing -----------------------------------------------------------------

    def open(self, uri: str | os.PathLike | None = None, factory: Callable[[], EventSource] | None = None
             ) -> None:
        """Play ``uri`` (a path or source URI), or the source ``factory()`` returns."""
        if (uri is None) == (factory is None):
            raise ValueError("give a uri or a factory")
        self.close()
        self.uri = None if uri is None else os.fspath(uri)
        self._factory = factory if factory is not None else (lambda u=self.uri: open_source(u))
        self._start()

    def restart(self) -> None:
        """Open the same source again (after an error)."""
        if self._factory is None:
            return
        self.close()
        self._start()

    def _start(self) -> None:
        self._dropped_before += self.outbox.dropped_frames if self.outbox is not None else 0
        self.outbox = Outbox(self.max_frames, on_ready=self.frames_ready.emit)
        path = self.uri if self.uri is not None and os.path.isfile(self.uri) else None
        self.engine = PlaybackEngine(
            self._factory, self.outbox, self.pipelines,
            EngineSettings.from_model(self.model),
            on_event=self._event.emit, source_path=path)
        self.engine.set_playing(self.model.playing)
        self._min_epoch = 0
        engine = self.engine
        worker = create_worker(engine.run, _start_thread=False,
                               _connect={"errored": lambda exc: self._on_error(engine, exc)})
        worker.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the engine and wait for it to close its source and recording."""
        engine, self.engine = self.engine, None
        if engine is None:
            return
        engine.stop()
        if not engine.done.wait(timeout):
            log.warning("the player thread did not stop within %.0f s", timeout)
        self._windows_dropped_before += engine.dropped_windows

    # -- what the GUI takes --------------------------------------------------------------------

    def take(self) -> Batch:
        """Frames and results that arrived since the last call (from the current seek on)."""
        if self.outbox is None:
            return Batch()
        return self.outbox.take(self._min_epoch)

    def count_skipped(self, n: int) -> None:
        """Frames the GUI took but did not draw (it draws only the newest)."""
        if self.outbox is not None:
            self.outbox.count_dropped(n)

    @property
    def dropped_frames(self) -> int:
        return self._dropped_before + (self.outbox.dropped_frames if self.outbox is not None else 0)

    @property
    def dropped_windows(self) -> int:
        """Pipeline windows dropped (real-time mode) since this worker opened its first stream."""
        return self._windows_dropped_before + (self.engine.dropped_windows if self.engine is not None else 0)

    # -- recording -----------------------------------------------------------------------------

    def start_recording(self, recorder: Recorder) -> None:
        if self.engine is None:
            recorder.close()
            raise RuntimeError("nothing is open to record")
        self.engine.start_recording(recorder)

    def stop_recording(self) -> None:
        if self.engine is not None:
            self.engine.stop_recording()

    # -- model -> engine -------------------------------------------------------------------------

    def _on_playing(self, playing: bool) -> None:
        if self.engine is not None:
            self.engine.set_playing(playing)

    def _on_seek(self, t: int) -> None:
        if self.engine is not None:
            self._min_epoch = self.engine.seek(t)

    def _on_settings(self, _value: Any) -> None:
        if self.engine is not None:
            self.engine.configure(EngineSettings.from_model(self.model))

    # -- engine -> GUI (queued into the GUI thread) ----------------------------------------------

    def _on_event(self, kind: str, payload: Any) -> None:
        if kind == "opened":
            assert isinstance(payload, Opened)
            self.opened.emit(payload)
        elif kind == "ended":
            self.model.pause()
            self.ended.emit()
        elif kind == "looped":
            self.looped.emit()
        elif kind == "recording":
            self.recording_finished.emit(payload)

    def _on_error(self, engine: PlaybackEngine, exc: Exception) -> None:
        if engine is not self.engine:
            return  # an engine we already replaced
        log.error("playback stopped: %s", exc, exc_info=exc)
        self._windows_dropped_before += engine.dropped_windows
        self.engine = None
        self.model.pause()
        self.failed.emit(exc)
