"""Registers the sources whose events are emulated from frames: ``video:PATH``, ``webcam:N`` and
``sim:SCENE`` (``street``, ``depth``, ``gesture``).

Importing this module costs nothing: OpenCV, the emulator and the simulator load when such a
source is opened.
"""

from __future__ import annotations

from . import register_scheme
from .source import EventSource


def _open_video(rest: str, **kwargs) -> EventSource:
    from .video_source import open_video

    return open_video(rest, **kwargs)


def _open_webcam(rest: str, **kwargs) -> EventSource:
    from .video_source import open_webcam

    return open_webcam(rest, **kwargs)


def _open_sim(rest: str, **kwargs) -> EventSource:
    from .sim.source import open_sim

    return open_sim(rest, **kwargs)


register_scheme("video", _open_video)
register_scheme("webcam", _open_webcam)
register_scheme("sim", _open_sim)
