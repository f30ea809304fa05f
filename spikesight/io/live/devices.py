"""What is plugged in, over every installed live back end: ``spikesight devices`` and the app's
source picker show this.

Each back end is asked in a thread of its own with a deadline, so one that hangs (a USB stack in
a bad state) cannot hold up the others or the caller; it is reported as timed out. A back end
that is not installed is reported as missing with how to install it, and one that answers "no
device" with an exception (neuromorphic-drivers raises ``RuntimeError`` on a machine without
USB) counts as none found. Each camera comes with the settings its URI can carry (``roi``,
``biases`` presets, ...: see :mod:`.options`).
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .base import BackendUnavailable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveDevice:
    """A camera one can open with ``open_source(uri)``; ``options`` are the settings its URI takes
    after ``?`` (``roi=x,y,w,h&biases=...``)."""

    uri: str
    backend: str
    model: str
    serial: str = ""
    options: str = ""


@dataclass
class BackendReport:
    """What one back end said: installed or not, its devices, and a note (why none, or how to install)."""

    backend: str
    installed: bool
    devices: list[LiveDevice] = field(default_factory=list)
    note: str = ""


def _dv() -> list[tuple[str, str, str]]:
    from .dv import discover

    return discover()


def _prophesee() -> list[tuple[str, str, str]]:
    from .prophesee import discover

    return discover()


def _metavision() -> list[tuple[str, str, str]]:
    from .metavision import discover

    return discover()


def _dv_net() -> list[tuple[str, str, str]]:
    from .dv import dv_module

    dv_module()
    return []


def _webcam() -> list[tuple[str, str, str]]:
    """Video devices the emulator can open (``webcam:N``); listed from /dev on Linux."""
    try:
        import cv2  # noqa: F401 - only whether it is there
    except ImportError as exc:
        raise BackendUnavailable("webcam", "needs OpenCV: pip install opencv-python-headless") from exc
    out = []
    for path in sorted(glob.glob("/dev/video[0-9]*"), key=lambda p: int(p[len("/dev/video"):])):
        n = path[len("/dev/video"):]
        try:
            with open(f"/sys/class/video4linux/video{n}/name") as f:
                name = f.read().strip()
        except OSError:
            name = "video device"
        out.append((f"webcam:{n}", f"{name} (emulated events)", ""))
    return out


def _dv_options(model: str) -> str:
    from .dv import uri_options

    return uri_options(model)


def _prophesee_options(model: str) -> str:
    from .prophesee import uri_options

    return uri_options(model)


def _metavision_options(model: str) -> str:
    from .metavision import uri_options

    return uri_options(model)


#: The URI options of each back end's cameras, by model.
OPTIONS: dict[str, Callable[[str], str]] = {"dv": _dv_options, "prophesee": _prophesee_options,
                                            "metavision": _metavision_options}

#: The back ends in the order they are shown, each with its discovery function.
BACKENDS: dict[str, Callable[[], list[tuple[str, str, str]]]] = {
    "dv": _dv,
    "prophesee": _prophesee,
    "metavision": _metavision,
    "dv-net": _dv_net,
    "webcam": _webcam,
}
_NOTES = {"dv-net": "streams are not discovered: open dv-net:HOST:PORT"}


def _ask(name: str, fn: Callable[[], list[tuple[str, str, str]]]) -> BackendReport:
    try:
        found = fn()
    except BackendUnavailable as exc:
        return BackendReport(name, False, note=exc.detail)
    except Exception as exc:  # a back end's failure to list is "none found", with its text
        log.debug("listing %s devices failed", name, exc_info=True)
        return BackendReport(name, True, note=f"none found ({type(exc).__name__}: {exc})")
    options = OPTIONS.get(name, lambda _model: "")
    devices = [LiveDevice(uri, name, model, serial, options(model)) for uri, model, serial in found]
    note = "" if devices else (_NOTES.get(name) or "none found")
    return BackendReport(name, True, devices, note)


def scan(backends: Sequence[str] | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> list[BackendReport]:
    """Ask each back end (all by default) for its devices, in parallel, for at most ``timeout`` s."""
    names = list(BACKENDS) if backends is None else list(backends)
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown back ends {sorted(unknown)}; known: {list(BACKENDS)}")
    results: dict[str, BackendReport] = {}
    lock = threading.Lock()

    def run(name: str) -> None:
        report = _ask(name, BACKENDS[name])
        with lock:
            results[name] = report

    threads = [threading.Thread(target=run, args=(n,), name=f"spikesight-discover-{n}", daemon=True)
               for n in names]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return [results.get(n) or BackendReport(n, True, note=f"timed out after {timeout:g} s")
                for n in names]


def list_devices(backends: Sequence[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S) -> list[LiveDevice]:
    """Every camera found by the installed back ends (see :func:`scan` for what is missing)."""
    return [d for report in scan(backends, timeout) for d in report.devices]
