"""Live event sources: iniVation cameras and DV network streams (dv-processing), Prophesee
cameras (neuromorphic-drivers, or the Metavision SDK), one module per back end.

``open_source("dv:")``, ``"dv-net:HOST:PORT"``, ``"prophesee:"``, ``"metavision:"`` (with an
optional serial after the colon) once :mod:`.schemes` is imported; :func:`list_devices` says
what is plugged in. Every source is a :class:`LiveSource`: a reader thread, a bounded queue
(newest data wins, drops counted), the camera's own timestamps, and
:class:`SourceDisconnected` when the stream ends.

The names below load on first use, so that registering the schemes (importing
:mod:`.schemes`, which ``spikesight.io`` does) costs nothing until a live source is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "BackendUnavailable": "base",
    "DeviceNotFound": "base",
    "LiveBatch": "base",
    "LiveSource": "base",
    "LiveSourceError": "base",
    "SourceDisconnected": "base",
    "BackendReport": "devices",
    "LiveDevice": "devices",
    "list_devices": "devices",
    "scan": "devices",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value
