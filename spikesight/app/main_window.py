"""The main window: the event view with its overlays, the playback and display controls, the
task and network panels as docks, the status bar, and files (open, recent, drag and drop,
recording, MP4 export), with settings kept in QSettings.

The window only draws: a :class:`~.worker.PlayerWorker` plays the stream in a worker thread,
and the window takes its frames and results when Qt says they are ready. Errors never open a
dialog; they show in a banner. In kiosk mode the window is full screen, loops, opens no dialog
at all, and restarts the source and pipelines after an error. A live camera or stream that is
lost (or cannot be opened) shows a notice offering File > Reconnect (F5); kiosk mode reconnects
by itself, waiting twice as long after each failure in a row. File > Open camera lists what
every installed live back end finds. Recordings are crash-safe (see :mod:`.journal`): the
window remembers each unfinished one, and after a crash offers File > Finish unfinished
recordings.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QMainWindow, QVBoxLayout, QWidget

from ..io import FORMATS
from ..io.live import LiveSourceError, SourceDisconnected, scan
from ..perception.pipelines import Pipeline
from ..perception.results import Detections, Result
from .engine import Opened
from .export import VideoExporter
from .journal import RecordingWriter, finish_recording, target_of, unfinished
from .model import PANELS, PERSISTENT, PlayerModel
from .qtfix import protect_singletons
from .record import Recorder, open_recording
from .stats import PlaybackStats
from .widgets.controls import PlaybackControls
from .widgets.depth_panel import DepthPanel
from .widgets.detection_overlay import DetectionOverlay
from .widgets.display_options import DisplayOptions
from .widgets.event_view import EventView
from .widgets.gesture_panel import GesturePanel
from .widgets.network_panel import NetworkPanel
from .widgets.notice import NoticeBanner
from .widgets.status_panel import StatusPanel
from .widgets.stream_info import StreamInfoPanel
from .worker import PlayerWorker

log = logging.getLogger(__name__)

MAX_RECENT = 10
#: The longest wait between two automatic reconnections of a live source (kiosk mode), in s.
MAX_RECONNECT_DELAY_S = 30.0
#: Detections older than this (event time) behind the frame on screen are not drawn.
STALE_DETECTIONS_US = 500_000
_PANEL_TITLES = {"info": "Stream", "detection": "Detection boxes", "ground_truth": "Ground-truth boxes",
                 "depth": "Depth", "gesture": "Gesture", "network": "Network", "rate_plot": "Event-rate plot"}


class _ViewArea(QWidget):
    """The event view with the notice banner floating over it."""

    def __init__(self, view: EventView) -> None:
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(view)
        self.notice = NoticeBanner(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.notice.reposition()


class MainWindow(QMainWindow):
    """The viewer. ``pipelines`` run while their task's panel is on; ``settings`` defaults to
    the user's QSettings (tests pass their own). ``every_window`` sets the model's "process every
    window" for this run without saving it (the command line's ``--every-window``)."""

    cameras_found = Signal(object)
    recordings_finished = Signal(object)

    def __init__(self, pipelines: Sequence[Pipeline] = (), *, model: PlayerModel | None = None,
                 settings: QSettings | None = None, kiosk: bool = False, restart_delay_s: float = 2.0,
                 max_frames: int = 3, every_window: bool | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        protect_singletons()
        self.setWindowTitle("spikesight")
        self.model = model or PlayerModel()
        self.settings = settings if settings is not None else QSettings("spikesight", "spikesight")
        self.kiosk = kiosk
        self.restart_delay_s = restart_delay_s
        self.pipelines = list(pipelines)
        self.tasks = [p.task for p in self.pipelines]
        self.uri: str | None = None
        self.restarts = 0
        self.stats = PlaybackStats()
        self.recorder: Recorder | None = None
        self.exporter: VideoExporter | None = None
        self._epoch: int | None = None
        self._detection: Result | None = None
        self._restarting = False
        self._live_failures = 0
        self._scanning = False
        self._load_settings()
        if kiosk:
            self.model.loop = True
        if every_window is not None:
            self.model.every_window = every_window

        self.worker = PlayerWorker(self.model, self.pipelines, max_frames=max_frames, parent=self)
        self.event_view = EventView()
        self.overlay = DetectionOverlay(self.event_view.view_box)
        self.view_area = _ViewArea(self.event_view)
        self.notice = self.view_area.notice
        self.controls = PlaybackControls(self.model)
        self.display_options = DisplayOptions(self.model)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addWidget(self.view_area, 1)
        lay.addWidget(self.controls)
        lay.addWidget(self.display_options)
        self.setCentralWidget(central)

        self.stream_info = StreamInfoPanel()
        self.depth_panel = DepthPanel()
        self.gesture_panel = GesturePanel()
        self.network_panel = NetworkPanel()
        self.network_panel.set_tasks(self.tasks)
        self.docks = {
            "info": self._dock("info", self.stream_info, Qt.DockWidgetArea.RightDockWidgetArea),
            "network": self._dock("network", self.network_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "gesture": self._dock("gesture", self.gesture_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "depth": self._dock("depth", self.depth_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
        }
        self.status_panel = StatusPanel()
        self.statusBar().addPermanentWidget(self.status_panel, 1)

        self._build_menus()
        self.setAcceptDrops(not kiosk)
        self._restart_timer = QTimer(self)
        self._restart_timer.setSingleShot(True)
        self._restart_timer.timeout.connect(self._restart)
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start(250)

        self.worker.frames_ready.connect(self._on_frames)
        self.worker.opened.connect(self._on_opened)
        self.worker.failed.connect(self._on_failed)
        self.worker.looped.connect(lambda: self._discontinuity())
        self.worker.recording_finished.connect(self._on_recording_finished)
        self.cameras_found.connect(self._fill_camera_menu)
        self.recordings_finished.connect(self._on_recordings_finished)
        self.model.events.panels.connect(lambda _v: self._apply_panels())
        self.model.events.changed.connect(self._persist)
        self._apply_panels()
        geometry = self.settings.value("window/geometry")
        if geometry is not None and not kiosk:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 900)
        self._offer_unfinished()

    # -- building ---------------------------------------------------------------------------------

    def _dock(self, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(_PANEL_TITLES[name], self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.open_action = self._add(self.file_menu, "&Open…", QKeySequence.StandardKey.Open,
                                     self.open_dialog)
        self.recent_menu = self.file_menu.addMenu("Open &recent")
        self.camera_menu = self.file_menu.addMenu("Open &camera")
        self.camera_menu.aboutToShow.connect(self.find_cameras)
        self.reconnect_action = self._add(self.file_menu, "Re&connect", "F5", self.reconnect)
        self.file_menu.addSeparator()
        self.record_action = self._add(self.file_menu, "&Record events…", "Ctrl+R", self.toggle_recording)
        self.export_action = self._add(self.file_menu, "&Export view as MP4…", "Ctrl+E", self.toggle_export)
        self.finish_action = self._add(self.file_menu, "&Finish unfinished recordings", "",
                                       self.finish_unfinished)
        self.file_menu.addSeparator()
        self._add(self.file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        self._rebuild_recent()

        play_menu = bar.addMenu("&Playback")
        for act in self.controls.actions_by_name.values():
            play_menu.addAction(act)

        view_menu = bar.addMenu("&View")
        self.panel_actions: dict[str, QAction] = {}
        for name in PANELS:
            act = QAction(_PANEL_TITLES[name], self)
            act.setCheckable(True)
            act.toggled.connect(lambda on, n=name: self.model.set_panel(n, on))
            view_menu.addAction(act)
            self.panel_actions[name] = act
        view_menu.addSeparator()
        self.roi_action = QAction("Region of interest", self)
        self.roi_action.setCheckable(True)
        self.roi_action.toggled.connect(self.event_view.set_roi_visible)
        view_menu.addAction(self.roi_action)
        self._add(view_menu, "Reset &zoom", "Ctrl+0", self.event_view.reset_zoom)
        self.fullscreen_action = self._add(view_menu, "&Full screen", "F", self.toggle_full_screen)
        self.addAction(self.fullscreen_action)
        self.addAction(self.record_action)
        self.addAction(self.export_action)
        if self.kiosk:
            bar.hide()
            for act in (self.open_action, self.record_action, self.export_action, self.reconnect_action,
                        self.finish_action):
                act.setEnabled(False)

    def _add(self, menu, text: str, keys, slot) -> QAction:
        act = QAction(text, self)
        act.setShortcut(QKeySequence(keys))
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    # -- opening ------------------------------------------------------------------------------------

    def open_source(self, uri: str | os.PathLike, factory=None) -> None:
        """Play ``uri`` (a file or source URI); ``factory`` makes the source instead (tests, demos)."""
        self.uri = os.fspath(uri)
        self._detection = None
        self._epoch = None
        self.notice.show_notice(f"Opening {os.path.basename(self.uri) or self.uri}…", "info", 0)
        if factory is not None:
            self.worker.open(factory=factory)
        else:
            self.worker.open(self.uri)

    def open_dialog(self) -> None:
        if self.kiosk:
            return
        exts = sorted({e for spec in FORMATS.values() if spec.reader for e in spec.extensions})
        filt = f"Event files ({' '.join('*' + e for e in exts)});;All files (*)"
        start = os.path.dirname(self._recent()[0]) if self._recent() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open an event recording", start, filt)
        if path:
            self.open_source(path)

    def _recent(self) -> list[str]:
        v = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [p for p in (v or []) if isinstance(p, str)]

    def _remember(self, uri: str) -> None:
        recent = [uri] + [p for p in self._recent() if p != uri]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _checked=False, p=path: self.open_source(p))
        self.recent_menu.setEnabled(bool(self._recent()) and not self.kiosk)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_source(paths[0])

    # -- the worker's news ----------------------------------------------------------------------------

    def _on_opened(self, op: Opened) -> None:
        info = op.info
        self.model.set_stream(self.uri, op.start_time, op.end_time, op.live)
        self.event_view.set_geometry(info.width, info.height)
        self.stream_info.set_stream(self.uri, info, op.live, op.pipelines)
        self.setWindowTitle(f"spikesight - {os.path.basename(self.uri or '') or info.format}")
        self.overlay.class_names = op.ground_truth_classes  # until a detector names its own
        self.depth_panel.clear()
        self.gesture_panel.clear()
        self.stats.reset()
        self.network_panel.clear()
        self._discontinuity()
        self._live_failures = 0
        if self._restarting:
            self._restarting = False
            if op.live:
                self.notice.show_notice(f"Reconnected to {self.uri}.", "info", 6)
            else:
                self.notice.show_notice(f"Restarted after an error (restart {self.restarts}).", "warning", 6)
        elif self.notice.level == "info":
            self.notice.clear_notice()
        if self.uri is not None and os.path.exists(self.uri):
            self._remember(os.path.abspath(self.uri))
        if self.kiosk or op.live:
            self.model.play()

    def _on_failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, LiveSourceError):
            self._on_live_failed(exc)
            return
        if self.kiosk:
            self.notice.show_notice(f"Playback error: {text}\nRestarting in {self.restart_delay_s:g} s…",
                                    "error", 0)
            self._restart_timer.start(int(self.restart_delay_s * 1000))
        else:
            self.notice.show_notice(f"Playback stopped: {text}", "error", 0)

    def _on_live_failed(self, exc: LiveSourceError) -> None:
        """A camera or stream is gone (or cannot be opened): kiosk mode reconnects with back-off
        (the delay doubles with each failure in a row), otherwise the notice offers F5."""
        what = "Stream lost" if isinstance(exc, SourceDisconnected) else "Cannot open the live source"
        if self.kiosk:
            delay = min(self.restart_delay_s * 2 ** self._live_failures, MAX_RECONNECT_DELAY_S)
            self._live_failures += 1
            self.notice.show_notice(f"{what}: {exc}\nReconnecting in {delay:g} s…", "error", 0)
            self._restart_timer.start(int(delay * 1000))
        else:
            self.notice.show_notice(f"{what}: {exc}\nPress F5 (File ▸ Reconnect) to try again.", "error", 0)

    def reconnect(self) -> None:
        """Open the last source again (after a camera or stream was lost)."""
        if self.uri is not None:
            self.notice.show_notice(f"Reconnecting to {self.uri}…", "info", 0)
            self._restart()

    def _restart(self) -> None:
        self.restarts += 1
        self._restarting = True
        self.worker.restart()

    def find_cameras(self) -> None:
        """Fill the Open camera menu from every installed back end (asked in a thread)."""
        if self._scanning:
            return
        self._scanning = True
        self.camera_menu.clear()
        self.camera_menu.addAction("Searching…").setEnabled(False)

        def ask() -> None:
            reports = scan()
            try:
                self.cameras_found.emit(reports)
            except RuntimeError:  # the window was deleted meanwhile
                pass

        threading.Thread(target=ask, name="spikesight-find-cameras", daemon=True).start()

    def _fill_camera_menu(self, reports) -> None:
        self._scanning = False
        menu = self.camera_menu
        menu.clear()
        devices = [d for r in reports for d in r.devices]
        for d in devices:
            act = menu.addAction(f"{d.model} {d.serial} ({d.uri})" if d.serial else f"{d.model} ({d.uri})")
            act.triggered.connect(lambda _checked=False, u=d.uri: self.open_source(u))
            act.setEnabled(not self.kiosk)
        if not devices:
            menu.addAction("No camera found").setEnabled(False)
        menu.addSeparator()
        ask = menu.addAction("Open a stream (dv-net:HOST:PORT)…")
        ask.triggered.connect(lambda _checked=False: self._ask_uri())
        ask.setEnabled(not self.kiosk)
        for r in reports:
            if not r.installed:
                menu.addAction(f"{r.backend}: not installed").setEnabled(False)

    def _ask_uri(self) -> None:
        if self.kiosk:
            return
        text, ok = QInputDialog.getText(self, "Open a live source", "Source URI:",
                                        text="dv-net:127.0.0.1:7777")
        if ok and text.strip():
            self.open_source(text.strip())

    def _discontinuity(self) -> None:
        """Event time jumped (open, seek, loop): the last boxes belong to the old times."""
        self._detection = None

    def _on_frames(self) -> None:
        batch = self.worker.take()
        for r in batch.results:
            self._route(r)
        if not batch.frames:
            return
        frame = batch.frames[-1]
        if len(batch.frames) > 1:
            self.worker.count_skipped(len(batch.frames) - 1)
        if frame.epoch != self._epoch:
            if self._epoch is not None:
                self._discontinuity()
            self._epoch = frame.epoch
        self.event_view.set_frame(frame)
        self._draw_boxes(frame.t_end, frame.ground_truth)
        self.model.position = frame.t_end
        self.stats.frame_shown(frame, time.monotonic())
        if self.exporter is not None:
            self.exporter.add(self.grab_view())

    def _route(self, r: Result) -> None:
        self.stats.result(r)
        if r.task == "detection":
            self._detection = r
        elif r.task == "depth" and "depth" in self.model.panels:
            self.depth_panel.set_result(r)
        elif r.task == "gesture" and "gesture" in self.model.panels:
            self.gesture_panel.set_result(r)
        self.network_panel.add_result(r)

    def _draw_boxes(self, t_end: int, ground_truth) -> None:
        r = self._detection
        fresh = (r is not None and isinstance(r.output, Detections)
                 and abs(t_end - r.t_end) <= STALE_DETECTIONS_US)
        self.overlay.set_detections(r.output if fresh else None)
        self.overlay.set_ground_truth(ground_truth)

    def _refresh_status(self) -> None:
        self.status_panel.refresh(self.stats, self.model, time.monotonic(), self.worker.dropped_frames,
                                  self.worker.dropped_windows)
        if self.exporter is not None:
            self.status_panel.set_recording(self._recording_text())
        self.network_panel.refresh()

    # -- panels -------------------------------------------------------------------------------------

    def _apply_panels(self) -> None:
        on = self.model.panels
        for name, act in self.panel_actions.items():
            act.blockSignals(True)
            act.setChecked(name in on)
            act.blockSignals(False)
            available = name not in ("detection", "depth", "gesture", "network") or (
                bool(self.tasks) if name == "network" else name in self.tasks)
            act.setEnabled(available)
        for name, dock in self.docks.items():
            available = name == "info" or (bool(self.tasks) if name == "network" else name in self.tasks)
            dock.setVisible(name in on and available)
        self.overlay.show_detections("detection" in on)
        self.overlay.show_ground_truth("ground_truth" in on)
        self.status_panel.plot.setVisible("rate_plot" in on)

    def panel_visible(self, name: str) -> bool:
        """Whether a panel shows now (docks, overlays, the rate plot)."""
        if name in self.docks:
            return not self.docks[name].isHidden()
        if name == "detection":
            return self.overlay.detections.visible
        if name == "ground_truth":
            return self.overlay.ground_truth.visible
        return not self.status_panel.plot.isHidden()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen() and not self.kiosk:
            self.showNormal()
        else:
            self.showFullScreen()

    # -- recording and export ---------------------------------------------------------------------

    def toggle_recording(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
            return
        if self.kiosk:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Record events to", "recording.raw",
                                              "EVT 3.0 RAW (*.raw);;HDF5 (*.hdf5);;All event files (*)")
        if path:
            self.start_recording(path)

    def start_recording(self, path: str | os.PathLike) -> bool:
        """Record every event played from now on to ``path`` (format from its extension)."""
        info = self.worker.engine.info if self.worker.engine is not None else None
        if info is None:
            self.notice.show_notice("Open a stream before recording.", "warning")
            return False
        try:
            self.recorder = open_recording(path, info.width, info.height)
        except (OSError, ValueError) as exc:
            self.notice.show_notice(f"Cannot record to {os.fspath(path)}: {exc}", "error")
            return False
        writer = self.recorder.writer
        if isinstance(writer, RecordingWriter) and not writer.direct:
            self._set_unfinished([*self._unfinished(), os.path.abspath(writer.raw_path)])
        self.worker.start_recording(self.recorder)
        self.status_panel.set_recording(self._recording_text())
        self.record_action.setText("Stop &recording")
        return True

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.worker.stop_recording()

    def _on_recording_finished(self, info: dict) -> None:
        if self.recorder is not None and info["path"] == self.recorder.path:
            self.recorder = None
        self.record_action.setText("&Record events…")
        self.status_panel.set_recording(self._recording_text())
        self._set_unfinished(self._unfinished())
        if info["error"]:
            self.notice.show_notice(f"Recording to {info['path']} failed: {info['error']}", "error", 0)
        else:
            lost = info.get("lost", 0)
            offset = info.get("time_offset_us", 0)
            self.notice.show_notice(
                f"Recorded {info['events']:,} events to {info['path']} ({info['reason']})."
                + (f" Its times count from its first event, {offset} µs on the camera's clock"
                   " (kept in its header)." if offset else "")
                + (f" {lost:,} events were lost: the viewer fell behind the camera." if lost else ""),
                "warning" if lost else "info")

    def _unfinished(self) -> list[str]:
        """The journals of the recordings started here that are still on disk."""
        v = self.settings.value("recording/unfinished", [])
        paths = [v] if isinstance(v, str) else v or []
        return [p for p in paths if isinstance(p, str) and os.path.isfile(p)]

    def _set_unfinished(self, journals: list[str]) -> None:
        self.settings.setValue("recording/unfinished", list(dict.fromkeys(journals)))
        self.finish_action.setEnabled(bool(unfinished(journals)) and not self.kiosk)

    def _offer_unfinished(self) -> None:
        """After a crash: say which recordings were cut short and how to finish them."""
        self._set_unfinished(self._unfinished())
        journals = unfinished(self._unfinished())  # not those another window is recording now
        if journals and not self.kiosk:
            names = ", ".join(os.path.basename(j) for j in journals)
            self.notice.show_notice(
                f"Cut short by a crash: {names}. What reached the disk is there and opens as it is; "
                "File ▸ Finish unfinished recordings turns each into the file asked for.", "warning", 0)

    def finish_unfinished(self) -> None:
        """Turn the journals of recordings cut short into their files (in a thread)."""
        journals = unfinished(self._unfinished())  # not those being recorded now
        if not journals or self.kiosk:
            return
        self.finish_action.setEnabled(False)
        self.notice.show_notice(f"Finishing {len(journals)} recording(s)…", "info", 0)

        def work() -> None:
            done = []
            for j in journals:
                try:
                    done.append((j, target_of(j), finish_recording(j, strict=False), None))
                except Exception as exc:  # reported in the notice; the journal is kept
                    log.exception("finishing the recording %s failed", j)
                    done.append((j, None, {}, f"{type(exc).__name__}: {exc}"))
            try:
                self.recordings_finished.emit(done)
            except RuntimeError:  # the window was deleted meanwhile
                pass

        threading.Thread(target=work, name="spikesight-finish-recordings", daemon=True).start()

    def _on_recordings_finished(self, done: list) -> None:
        self._set_unfinished(self._unfinished())
        lines = []
        for journal, target, skipped, error in done:
            if error is not None:
                lines.append(f"{os.path.basename(journal)}: failed ({error}); it is kept.")
            else:
                lines.append(f"{os.path.basename(journal)} → {target}"
                             + (f" (skipped {sum(skipped.values())} damaged word(s))" if skipped else ""))
        failed = any(d[3] is not None for d in done)
        self.notice.show_notice("Finished recordings:\n" + "\n".join(lines), "error" if failed else "info",
                                0 if failed else 10)

    def toggle_export(self) -> None:
        if self.exporter is not None:
            self.stop_export()
            return
        if self.kiosk:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the view to", "view.mp4", "MP4 video (*.mp4)")
        if path:
            self.start_export(path)

    def start_export(self, path: str | os.PathLike) -> None:
        """Write every frame drawn from now on, as the view shows it, to an MP4 file."""
        fps = self.model.display_fps if not self.model.fastest else 30.0
        self.exporter = VideoExporter(path, fps)
        self.export_action.setText("Stop &export")
        self.status_panel.set_recording(self._recording_text())

    def stop_export(self) -> VideoExporter | None:
        exp, self.exporter = self.exporter, None
        if exp is None:
            return None
        exp.close()
        self.export_action.setText("&Export view as MP4…")
        self.status_panel.set_recording(self._recording_text())
        if exp.error is not None:
            self.notice.show_notice(f"Export to {exp.path} failed: {exp.error}", "error", 0)
        else:
            self.notice.show_notice(f"Exported {exp.written} frames to {exp.path}"
                                    + (f" ({exp.dropped} dropped)" if exp.dropped else "") + ".")
        return exp

    def _recording_text(self) -> str:
        parts = []
        if self.recorder is not None:
            parts.append(f"● REC {os.path.basename(self.recorder.path)}")
        if self.exporter is not None:
            parts.append(f"● MP4 {self.exporter.written} frames")
        return "  ".join(parts)

    def grab_view(self) -> np.ndarray:
        """The event view as drawn (with overlays), RGB uint8 [H, W, 3]."""
        img = self.event_view.graphics.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        w, h, stride = img.width(), img.height(), img.bytesPerLine()
        buf = np.frombuffer(img.constBits(), np.uint8, count=stride * h).reshape(h, stride)
        return buf[:, : w * 3].reshape(h, w, 3).copy()

    # -- settings -------------------------------------------------------------------------------------

    def _load_settings(self) -> None:
        values = {}
        for k in PERSISTENT:
            v = self.settings.value(f"player/{k}")
            if v is not None:
                values[k] = v
        self.model.apply_settings(values)

    def _persist(self, name: str, _value) -> None:
        if name in PERSISTENT and not self.kiosk:
            v = self.model.settings()[name]
            self.settings.setValue(f"player/{name}", ",".join(v) if isinstance(v, list) else str(v))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop playback, recording and export, and save the window's geometry."""
        self._status_timer.stop()
        self._restart_timer.stop()
        if not self.kiosk:
            self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()
        self.stop_export()
        self.worker.close()

