"""Prophesee cameras through the Metavision SDK / OpenEB: ``metavision:`` or ``metavision:SERIAL``.

The SDK is not on PyPI (Prophesee's installers, or OpenEB built from source), so it is optional
and imported here only, when such a source is opened; without it the opener raises
:class:`~.base.BackendUnavailable` saying so (``prophesee:`` needs no SDK).

``metavision_core.event_io.EventsIterator`` reads the camera (``input_path`` ``""``: the first
one, or a serial) in ``delta_t`` slices of ``EventCD`` records, the layout of
:data:`~spikesight.io.events.EVENT_DTYPE`, so they pass without conversion; ``get_size()`` is
``(height, width)``. With ``biases`` or ``roi`` the camera is opened through the HAL
(``metavision_hal.DeviceDiscovery.open``), set up, and handed to ``EventsIterator.from_device``.
A live camera's iterator just ends, or raises ``RuntimeError``, when the camera goes away: both
end the stream with :class:`~.base.SourceDisconnected`. No camera: the SDK raises ``OSError``.

Biases: a preset of :data:`~.prophesee.BIAS_PRESETS` (applied as changes to the camera's current
``bias_diff_on``/``bias_diff_off``) or raw values by the SDK's names (``{"bias_diff_on": 110}``).
Both can be written in the URI: ``metavision:[SERIAL]?roi=x,y,w,h&biases=less_sensitive``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..events import as_events
from .base import BackendUnavailable, DeviceNotFound, LiveBatch, LiveSource, LiveSourceError
from .options import parse_biases, parse_roi, split_options
from .prophesee import BIAS_PRESETS

log = logging.getLogger(__name__)

#: Slice length asked of the EventsIterator (µs): how often the reader thread gets control back.
DELTA_T_US = 2_000
MODEL = "Prophesee camera (Metavision SDK)"
#: What ``metavision:SERIAL?...`` takes, and how each value is read.
URI_OPTIONS = {"roi": parse_roi, "biases": parse_biases}
_INSTALL = ("needs the Metavision SDK or OpenEB, which are not on PyPI (see https://docs.prophesee.ai); "
            "prophesee: reads the same cameras without an SDK")


def _events_iterator_class():
    try:
        from metavision_core.event_io import EventsIterator
    except ImportError as exc:
        raise BackendUnavailable("metavision", _INSTALL) from exc
    return EventsIterator


def _hal():
    try:
        import metavision_hal
    except ImportError as exc:
        raise BackendUnavailable("metavision", _INSTALL) from exc
    return metavision_hal


def discover() -> list[tuple[str, str, str]]:
    """``(uri, model, serial)`` of each camera the SDK's HAL lists."""
    hal = _hal()
    return [(f"metavision:{s}", MODEL, str(s)) for s in hal.DeviceDiscovery.list()]


class MetavisionSource(LiveSource):
    """A camera through the Metavision SDK (see the module's docstring)."""

    backend = "metavision"

    def __init__(self, serial: str = "", *, biases: str | dict[str, int] | None = None,
                 roi: tuple[int, int, int, int] | None = None, delta_t: int = DELTA_T_US,
                 **kwargs: Any) -> None:
        serial = serial.strip()
        super().__init__(f"metavision:{serial}", **kwargs)
        events_iterator = _events_iterator_class()
        device = None
        try:
            if biases is not None or roi is not None:
                device = self._open_device(serial, biases, roi)
                it = events_iterator.from_device(device, mode="delta_t", delta_t=int(delta_t))
            else:
                it = events_iterator(input_path=serial, mode="delta_t", delta_t=int(delta_t))
        except OSError as exc:
            what = f"no camera with serial {serial!r}" if serial else "no camera"
            raise DeviceNotFound("metavision", f"the Metavision SDK finds {what} ({exc})", self.uri) from exc
        except RuntimeError as exc:
            raise LiveSourceError("metavision", f"cannot open the camera: {exc}", self.uri) from exc
        self._it = it
        height, width = it.get_size()
        self.info = self._live_info(width, height, model=MODEL,
                                    serial=serial or _serial_of(device if device is not None else it))
        self._start()

    def _open_device(self, serial: str, biases: str | dict[str, int] | None,
                     roi: tuple[int, int, int, int] | None) -> Any:
        hal = _hal()
        device = hal.DeviceDiscovery.open(serial)
        if device is None:
            raise OSError(f"DeviceDiscovery.open({serial!r}) found no camera")
        if biases is not None:
            ll = device.get_i_ll_biases()
            if ll is None:
                raise LiveSourceError("metavision", "this camera has no settable biases", self.uri)
            if isinstance(biases, str):
                if biases not in BIAS_PRESETS:
                    raise LiveSourceError("metavision", f"unknown bias preset {biases!r}; presets: "
                                                        f"{sorted(BIAS_PRESETS)}", self.uri)
                values = {f"bias_{k}": int(ll.get(f"bias_{k}")) + d for k, d in BIAS_PRESETS[biases].items()}
            else:
                values = {k: int(v) for k, v in biases.items()}
            for name, value in values.items():
                if not ll.set(name, value):
                    raise LiveSourceError("metavision", f"the camera refused {name}={value}", self.uri)
        if roi is not None:
            i_roi = device.get_i_roi()
            if i_roi is None:
                raise LiveSourceError("metavision", "this camera has no region of interest", self.uri)
            i_roi.set_window(hal.I_ROI.Window(*(int(v) for v in roi)))
            i_roi.enable(True)
        return device

    def _read(self) -> Iterator[LiveBatch | None]:
        for ev in self._it:
            if self.stopping():
                return
            yield LiveBatch(as_events(np.asarray(ev))) if len(ev) else None

    def _end_reason(self) -> str:
        return "the camera stopped sending (the SDK's iterator ended: unplugged?)"

    def _release(self) -> None:
        self._it = None


def _serial_of(obj: Any) -> str | None:
    """The camera's serial from the HAL, where the object leads to it."""
    device = getattr(getattr(obj, "reader", None), "device", obj)
    try:
        return str(device.get_i_hw_identification().get_serial())
    except Exception:  # an optional nicety: the SDK's objects vary between versions
        return None


def open_metavision(rest: str, **kwargs: Any) -> MetavisionSource:
    """The opener of ``metavision:`` and ``metavision:SERIAL``, with :data:`URI_OPTIONS` after ``?``."""
    serial, kwargs = split_options("metavision", rest, URI_OPTIONS, kwargs)
    return MetavisionSource(serial, **kwargs)


def uri_options(model: str) -> str:
    """The URI options a camera through the SDK takes, for listings."""
    return f"roi=x,y,w,h&biases={'|'.join(BIAS_PRESETS)}|name:value,..."
