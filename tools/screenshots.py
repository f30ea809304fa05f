"""Screenshots of the real viewer window replaying a recording, with checks on the pixels.

Run under an X server (tools/screenshots.sh starts Xvfb): opens the window on SOURCE with the
shipped detector (``--stand-in``: the untrained pipeline of demo_pipelines.py, for recordings the
detector was not made for), plays at 1x, and saves two
screenshots a second apart (``viewer-1.png``, ``viewer-2.png``) plus the whole X screen when
``--root-command`` is given. Then it checks that the two differ (the events move), that boxes
are drawn where the detections are, and that the spike raster is not empty; exit status 1 if not.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("source")
    p.add_argument("outdir")
    p.add_argument("--start", type=float, default=0.15, help="seconds into the recording to start")
    p.add_argument("--first", type=float, default=2.5, help="seconds of playing before the first shot")
    p.add_argument("--gap", type=float, default=1.0, help="seconds between the two shots")
    p.add_argument("--size", default="1600x1000")
    p.add_argument("--root-command", help="command that saves the X screen to the path appended to it")
    p.add_argument("--stand-in", action="store_true", help="the untrained stand-in instead of the detector")
    args = p.parse_args(argv)

    from demo_pipelines import UntrainedSpikingDemo
    from PySide6.QtCore import QPointF, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from spikesight.app.launch import dispose
    from spikesight.app.main_window import MainWindow
    from spikesight.app.qtfix import protect_singletons
    from spikesight.app.theme import apply_dark_theme
    from spikesight.app.widgets.detection_overlay import DETECTION_COLOUR
    from spikesight.io import open_source

    os.makedirs(args.outdir, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    protect_singletons()
    apply_dark_theme(app)
    with open_source(args.source) as src:
        w, h = src.info.width, src.info.height
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    if args.stand_in:
        pipeline = UntrainedSpikingDemo(w, h)
    else:
        from spikesight.perception.pipelines import open_pipeline

        pipeline = open_pipeline("detection")
    win = MainWindow([pipeline], settings=settings)
    win.model.accumulation_us = 50_000
    win.model.decay = "linear"
    win.model.loop = True  # short recordings go round
    sw, sh = (int(v) for v in args.size.split("x"))
    win.setGeometry(0, 0, sw, sh)
    win.show()
    win.open_source(args.source)
    shots: list[str] = []
    report: dict = {}

    def start() -> None:
        win.model.seek(win.model.start_time + int(args.start * 1e6))
        win.model.play()

    def shoot() -> None:
        k = len(shots) + 1
        path = os.path.join(args.outdir, f"viewer-{k}.png")
        win.grab().save(path)
        shots.append(path)
        if args.root_command:
            root = os.path.join(args.outdir, f"screen-{k}.png")
            subprocess.run([*shlex.split(args.root_command), root], check=True)
        if k == 1:
            det = win.overlay.detections.boxes.copy()
            view = win.grab_view()
            vb = win.event_view.view_box
            amber = np.array([int(DETECTION_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
            hits = 0
            for x0, y0, _, y1 in det:
                pt = win.event_view.graphics.mapFromScene(vb.mapViewToScene(QPointF(float(x0),
                                                                                     float(y0 + y1) / 2)))
                patch = view[max(0, pt.y() - 3):pt.y() + 4, max(0, pt.x() - 3):pt.x() + 4].reshape(-1, 3)
                hits += bool(len(patch)) and int(np.min(np.abs(patch.astype(int) - amber).sum(axis=1))) < 60
            report["boxes"] = len(det)
            report["boxes_drawn"] = hits
            report["spikes_drawn"] = win.network_panel.spike_count()
            QTimer.singleShot(int(args.gap * 1000), shoot)
        else:
            a = np.asarray(_load(shots[0]), int)
            b = np.asarray(_load(shots[1]), int)
            report["pixels_changed"] = int(np.count_nonzero(np.abs(a - b).sum(axis=-1) > 30))
            win.close()
            app.quit()

    win.worker.opened.connect(lambda _op: QTimer.singleShot(300, start))
    QTimer.singleShot(int(args.first * 1000), shoot)
    app.exec()
    dispose(win)
    ok = (report.get("boxes", 0) > 0 and report.get("boxes_drawn") == report.get("boxes")
          and report.get("spikes_drawn", 0) > 0 and report.get("pixels_changed", 0) > 100)
    for k, v in report.items():
        print(f"{k:>15}: {v}")
    print("screenshots:", " ".join(shots), "OK" if ok else "CHECKS FAILED")
    return 0 if ok else 1


def _load(path: str) -> np.ndarray:
    import cv2

    return cv2.imread(path)


if __name__ == "__main__":
    sys.exit(main())
