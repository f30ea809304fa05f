"""The viewer's command line: parse the arguments, make the Qt application, show the window.

``--quit-after`` and ``--screenshot`` make unattended runs possible (screenshots under Xvfb,
smoke tests): the window grabs itself to a PNG and quits after the given time.

A file replays in real time: task pipelines slower than the stream have windows dropped.
``--every-window`` makes the replay wait for them instead, for this run; so does Qt's offscreen
platform (rendering with no display, as ``make demo`` does on a server), where nobody watches
the clock and every window must be processed.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The arguments of ``spikesight app``; the CLI can reuse it as a parent parser."""
    p = argparse.ArgumentParser(prog="spikesight app", add_help=add_help,
                                description="The spikesight event viewer.")
    p.add_argument("source", nargs="?", help="an event file or a live source URI (dv:, prophesee:, ...)")
    p.add_argument("--kiosk", action="store_true",
                   help="full screen, loop, no dialogs, restart after errors (for unattended demos)")
    p.add_argument("--play", action="store_true", help="start playing at once")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="close the window after SECONDS")
    p.add_argument("--screenshot", metavar="PNG", help="with --quit-after: save the window to PNG first")
    p.add_argument("--every-window", action="store_true",
                   help="replaying a file, process every pipeline window (the replay slows to the pipelines' "
                        "pace) instead of dropping windows to keep real time; on for this run only")
    p.add_argument("--task", action="append", default=[], metavar="TASK",
                   help="run a task's shipped network: detection, depth or gesture (repeatable); "
                        "TASK=WEIGHTS picks other weights (a shipped name or a .pt path)")
    return p


def open_pipelines(specs: Sequence[str]) -> list[Any]:
    """Pipelines for ``--task`` values (``detection`` or ``detection=path/to/weights.pt``).

    torch runs them on one intra-op thread: the shipped networks are small, and on the 2-core
    development machine one thread ran the detector 3x faster than two (36 vs 121 ms a window),
    while the GUI and the player keep the other core."""
    if not specs:
        return []
    import torch

    from ..perception.pipelines import open_pipeline

    torch.set_num_threads(1)
    out = []
    for spec in specs:
        task, _, weights = spec.partition("=")
        out.append(open_pipeline(task, weights or None))
    return out


def main(argv: Sequence[str] | None = None, pipelines: Sequence[Any] = ()) -> int:
    """Parse ``argv`` (the arguments after ``spikesight app``) and run the viewer."""
    return run_namespace(build_parser().parse_args(argv), pipelines)


def run_namespace(args: argparse.Namespace, pipelines: Sequence[Any] = ()) -> int:
    """Run the viewer from arguments parsed by :func:`build_parser` (or a parser that has it as a
    parent); returns the exit status."""
    from .memory import tune_allocator

    tune_allocator()  # before the big allocations: a kiosk's memory stays flat (see .memory)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .qtfix import protect_singletons
    from .theme import apply_dark_theme

    pipelines = [*pipelines, *open_pipelines(getattr(args, "task", []))]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    protect_singletons()
    app.setApplicationName("spikesight")
    app.setOrganizationName("spikesight")
    apply_dark_theme(app)
    every_window = every_window_for(args, app.platformName())
    win = MainWindow(pipelines, kiosk=args.kiosk, every_window=every_window)
    if args.kiosk:
        # without a window manager (a bare X server) full screen needs the geometry set too
        win.setGeometry(app.primaryScreen().geometry())
        win.showFullScreen()
    else:
        win.show()
    if args.source:
        win.open_source(args.source)
        if args.play:
            win.worker.opened.connect(lambda _op: win.model.play())
    if args.quit_after is not None:
        def finish() -> None:
            if args.screenshot:
                win.grab().save(args.screenshot)
                log.info("saved %s", args.screenshot)
            win.close()
            app.quit()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    status = app.exec()
    win.close()
    dispose(win)
    return status


def every_window_for(args: argparse.Namespace, platform: str) -> bool | None:
    """The "process every window" override of this run: on with ``--every-window`` or on Qt's
    offscreen platform (offline rendering), else ``None`` (the saved setting)."""
    if getattr(args, "every_window", False):
        return True
    if platform == "offscreen":
        log.info("offscreen rendering: every pipeline window is processed (the replay may be slower)")
        return True
    return None


def dispose(widget) -> None:
    """Delete a top-level widget now, while Qt and Python are both alive.

    pyqtgraph items left for the interpreter's final garbage collection can crash it on exit
    (seen with PySide6 6.12 and Python 3.11), so the window is deleted before ``run`` returns.
    """
    from PySide6.QtCore import QCoreApplication, QEvent

    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
