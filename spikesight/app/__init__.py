"""The Qt event viewer (PySide6 + pyqtgraph): playback, recording, task overlays, spike rasters.

``run(argv)`` is what ``spikesight app [SOURCE] [--kiosk]`` calls. Importing this package does
not import Qt: the player model (:mod:`.model`) and the playback engine (:mod:`.engine`) work
without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def run(argv: Sequence[str] | None = None, pipelines: Sequence[Any] = ()) -> int:
    """Open the viewer window and run Qt's event loop; returns the exit status.

    ``argv`` are the command's arguments after ``app`` (see :func:`.launch.build_parser`):
    ``[SOURCE] [--kiosk] [--play] [--quit-after SECONDS] [--screenshot PNG]``.
    ``pipelines`` are :class:`~spikesight.perception.pipelines.Pipeline` objects to run.
    """
    from .launch import main

    return main(argv, pipelines)
