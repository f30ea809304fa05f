"""Prophesee cameras without Prophesee's SDK, through neuromorphic-drivers: ``prophesee:`` or
``prophesee:SERIAL``.

neuromorphic-drivers (MIT, on PyPI; the ``live`` extra) speaks the USB protocols of the EVK4
(and IDS uEye XCP-E, SilkyEvCam HD), the EVK3 HD, CenturyArks VGA, Lucid Triton, DAVIS 346 and
DVXplorer from one compiled extension. It is imported here only, when such a source is opened.

The reader thread iterates the device with a short ``iterator_timeout`` (so it notices a close
within that time): each ``(status, packet)`` gives ``packet.polarity_events`` (``t`` u8 µs,
``x``, ``y``, ``on``), converted to :data:`~spikesight.io.events.EVENT_DTYPE` column by column,
and ``packet.trigger_events`` (triggers). Packets the driver's ring dropped (the host fell
behind the USB stream) are counted from ``status.ring.dropped_packets``.

neuromorphic-drivers raises ``RuntimeError`` for everything: no USB at all, no camera, a serial
not found, and a camera unplugged mid-stream (the iterator raises). So opening turns
``RuntimeError`` into :class:`~.base.DeviceNotFound`, and the reader thread into
:class:`~.base.SourceDisconnected`.

Biases: a preset name from :data:`BIAS_PRESETS` (changes from the device's default biases:
``less_sensitive`` raises the ON and lowers the OFF threshold bias, so fewer events need a larger
contrast; ``more_sensitive`` the opposite), or a dict of raw values in the device's own bias
fields (EVK4: offsets from the chip's factory biases; EVK3 HD: absolute values), checked against
``biases_bounds()`` where the device gives them.

Region of interest: ``roi=(x, y, width, height)`` keeps the events of that rectangle only, done by
the sensor. neuromorphic-drivers gives the EVK4, EVK3 HD and CenturyArks VGA a row mask and a
column mask (one bit per column or row, set bits are off; with ``mask_intersection_only`` false,
a pixel is off when its row or its column is), as its ``evk4_region_of_interest`` example uses
them: every bit set but those of the rectangle (:func:`roi_masks`). The DAVIS 346 has a
``RegionOfInterest(left, top, width, height)``. Other devices refuse an ROI. Events keep their
sensor coordinates and the stream its full geometry; ``info.metadata["roi"]`` says the rectangle.

Both can be written in the URI: ``prophesee:[SERIAL]?roi=x,y,w,h&biases=less_sensitive`` (or
``biases=diff_on:20,diff_off:-20``), see :mod:`.options`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..events import EVENT_DTYPE, TRIGGER_DTYPE
from .base import BackendUnavailable, DeviceNotFound, LiveBatch, LiveSource, LiveSourceError
from .options import parse_biases, parse_roi, split_options

log = logging.getLogger(__name__)

#: Seconds one step of the device iterator waits for a packet (how soon a close is noticed).
ITERATOR_TIMEOUT_S = 0.05
#: Changes to the default biases of Prophesee sensors (IMX636 EVK4, Gen4.1 EVK3 HD), in bias steps.
BIAS_PRESETS: dict[str, dict[str, int]] = {
    "default": {},
    "less_sensitive": {"diff_on": 20, "diff_off": -20},
    "more_sensitive": {"diff_on": -12, "diff_off": 12},
}
#: What ``prophesee:SERIAL?...`` takes, and how each value is read.
URI_OPTIONS = {"roi": parse_roi, "biases": parse_biases}
#: The devices (neuromorphic-drivers' ``Name`` values) that take a region of interest.
ROI_MODELS = ("Prophesee EVK4", "Prophesee EVK3 HD", "CenturyArks VGA", "iniVation DAVIS 346")


def nd_module():
    """neuromorphic_drivers, or :class:`BackendUnavailable` saying how to install it."""
    try:
        import neuromorphic_drivers
    except ImportError as exc:
        raise BackendUnavailable(
            "prophesee", "Prophesee cameras need neuromorphic-drivers: pip install 'spikesight[live]' "
                         "(or pip install neuromorphic-drivers)") from exc
    return neuromorphic_drivers


def polarity_to_events(pol: np.ndarray) -> np.ndarray:
    """neuromorphic-drivers' ``(t u8, x u2, y u2, on bool)`` records as events (no Python loop)."""
    ev = np.empty(len(pol), EVENT_DTYPE)
    ev["t"] = pol["t"]
    ev["x"] = pol["x"]
    ev["y"] = pol["y"]
    ev["p"] = pol["on"]
    return ev


def trigger_records(trig: np.ndarray) -> np.ndarray:
    """neuromorphic-drivers' ``(t u8, id u1, rising bool)`` records as triggers."""
    out = np.empty(len(trig), TRIGGER_DTYPE)
    out["p"] = trig["rising"]
    out["t"] = trig["t"]
    out["id"] = trig["id"]
    return out


def _name_text(name: Any) -> str:
    return str(getattr(name, "value", name))


def discover() -> list[tuple[str, str, str]]:
    """``(uri, model, serial)`` of each camera neuromorphic-drivers lists (none: ``[]``, even when
    it raises ``RuntimeError`` because the machine has no USB)."""
    nd = nd_module()
    try:
        listed = nd.list_devices()
    except RuntimeError as exc:
        log.debug("neuromorphic-drivers list_devices() raised %s: counted as no device", exc)
        return []
    out = []
    for d in listed:
        serial = d.serial or ""
        model = _name_text(d.name) + (f" ({d.error})" if getattr(d, "error", None) else "")
        out.append((f"prophesee:{serial}", model, serial))
    return out


def uri_options(model: str) -> str:
    """The URI options a camera of ``model`` (as :func:`discover` names it) takes, for listings."""
    roi = "roi=x,y,w,h&" if model.startswith(ROI_MODELS) else ""
    return f"{roi}biases={'|'.join(BIAS_PRESETS)}|name:value,..."


def roi_masks(width: int, height: int, roi: tuple[int, int, int, int], x_words: int,
              y_words: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The column and row masks that keep only ``roi`` = (x, y, w, h): bit ``i`` of the words
    (little-endian, 64 bits each) is column (row) ``i``; set bits are off, and the bits past the
    sensor's width (height) are 0, as neuromorphic-drivers' ``RowColumnMask`` packs them."""
    x, y, w, h = roi

    def words(size: int, start: int, length: int, n: int) -> tuple[int, ...]:
        bits = np.zeros(n * 64, dtype=bool)
        bits[:size] = True
        bits[start : start + length] = False
        return tuple(int(v) for v in np.packbits(bits, bitorder="little").view("<u8"))

    return words(width, x, w, x_words), words(height, y, h, y_words)


class PropheseeSource(LiveSource):
    """A camera through neuromorphic-drivers; ``biases`` a preset name or raw values, ``roi`` the
    rectangle (x, y, width, height) whose events the sensor sends (see the module's docstring)."""

    backend = "prophesee"

    def __init__(self, serial: str = "", *, biases: str | dict[str, int] | None = None,
                 roi: tuple[int, int, int, int] | None = None,
                 iterator_timeout: float = ITERATOR_TIMEOUT_S, **kwargs: Any) -> None:
        serial = serial.strip()
        super().__init__(f"prophesee:{serial}", **kwargs)
        nd = self._nd = nd_module()
        try:
            device = nd.open(serial=serial or None, iterator_timeout=iterator_timeout)
        except RuntimeError as exc:
            what = f"no camera with serial {serial!r}" if serial else "no camera"
            raise DeviceNotFound("prophesee", f"neuromorphic-drivers finds {what} ({exc})", self.uri) from exc
        self._device = device
        try:
            name = _name_text(device.name())
            props = device.properties()
            dev_serial = device.serial()
            if biases is not None or roi is not None:
                self._configure(biases, roi, props.width, props.height)
        except (RuntimeError, LiveSourceError, ValueError, TypeError) as exc:
            self._close_device()
            if isinstance(exc, LiveSourceError):
                raise
            raise LiveSourceError("prophesee", f"cannot set the camera up: {exc}", self.uri) from exc
        self._dropped_packets = 0
        self.info = self._live_info(props.width, props.height, model=name, serial=dev_serial,
                                    biases=biases if isinstance(biases, str) else
                                    (",".join(f"{k}={v}" for k, v in biases.items()) if biases else None),
                                    roi=",".join(str(int(v)) for v in roi) if roi is not None else None)
        self._start()

    def _configure(self, biases: str | dict[str, int] | None, roi: tuple[int, int, int, int] | None,
                   width: int, height: int) -> None:
        """Build the device's Configuration with these biases and region of interest, and send it."""
        module = self._config_module()
        fields: dict[str, Any] = {}
        if biases is not None:
            fields["biases"] = module.Biases(**self._bias_values(module, biases))
        if roi is not None:
            fields.update(self._roi_fields(module, tuple(int(v) for v in roi), width, height))
        self._device.update_configuration(module.Configuration(**fields))

    def _roi_fields(self, module: Any, roi: tuple[int, ...], width: int, height: int) -> dict[str, Any]:
        x, y, w, h = roi
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise LiveSourceError("prophesee", f"roi {roi} does not lie within the {width}x{height} sensor",
                                  self.uri)
        config = {f.name: f for f in dataclasses.fields(module.Configuration)}
        if "x_mask" in config and "y_mask" in config:
            default = module.Configuration()
            x_mask, y_mask = roi_masks(width, height, (x, y, w, h), len(default.x_mask), len(default.y_mask))
            return {"x_mask": x_mask, "y_mask": y_mask, "mask_intersection_only": False}
        if "region_of_interest" in config and hasattr(module, "RegionOfInterest"):
            return {"region_of_interest": module.RegionOfInterest(left=x, top=y, width=w, height=h)}
        raise LiveSourceError("prophesee", f"neuromorphic-drivers sets no region of interest on a "
                                           f"{_name_text(self._device.name())}", self.uri)

    def _bias_values(self, module: Any, biases: str | dict[str, int]) -> dict[str, int]:
        values = dataclasses.asdict(module.Biases())
        if isinstance(biases, str):
            if biases not in BIAS_PRESETS:
                raise LiveSourceError("prophesee", f"unknown bias preset {biases!r}; presets: "
                                                   f"{sorted(BIAS_PRESETS)}", self.uri)
            for k, delta in BIAS_PRESETS[biases].items():
                if k in values:
                    values[k] += delta
        else:
            unknown = set(biases) - set(values)
            if unknown:
                raise LiveSourceError("prophesee", f"this camera has no bias {sorted(unknown)}; it has "
                                                   f"{sorted(values)}", self.uri)
            values.update({k: int(v) for k, v in biases.items()})
        self._check_bounds(values)
        return values

    def _config_module(self) -> Any:
        """The neuromorphic-drivers module of this device's configuration (``nd.prophesee_evk4``...)."""
        name = self._device.name()
        key = getattr(name, "name", str(name)).lower()
        module = getattr(self._nd, key, None)
        if module is None or not hasattr(module, "Biases"):
            raise LiveSourceError("prophesee", f"biases and ROI cannot be set on a {_name_text(name)} here",
                                  self.uri)
        return module

    def _check_bounds(self, values: dict[str, int]) -> None:
        try:
            bounds = self._device.biases_bounds()
        except (RuntimeError, AttributeError):
            return
        for k, v in values.items():
            b = getattr(bounds, k, None)
            if b is not None and (b.minimum or b.maximum) and not b.minimum <= v <= b.maximum:
                raise LiveSourceError("prophesee", f"bias {k}={v} is outside [{b.minimum}, {b.maximum}]",
                                      self.uri)

    def _read(self) -> Iterator[LiveBatch | None]:
        for status, packet in self._device:
            if self.stopping():
                return
            lost = self._lost(status)
            if packet is None:
                yield LiveBatch(np.empty(0, EVENT_DTYPE), lost=lost) if lost else None
                continue
            pol = getattr(packet, "polarity_events", None)
            trig = getattr(packet, "trigger_events", None)
            events = polarity_to_events(pol) if pol is not None and len(pol) else np.empty(0, EVENT_DTYPE)
            yield LiveBatch(events, trigger_records(trig) if trig is not None and len(trig) else None, lost)

    def _lost(self, status: Any) -> dict[str, int]:
        ring = getattr(status, "ring", None)
        dropped = getattr(ring, "dropped_packets", None) if ring is not None else None
        if dropped is None or dropped <= self._dropped_packets:
            return {}
        new, self._dropped_packets = dropped - self._dropped_packets, dropped
        return {"usb_packets_dropped": int(new)}

    def _end_reason(self) -> str:
        return "the camera stopped sending (unplugged?)"

    def _close_device(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            close = getattr(device, "close", None)
            if close is not None:
                close()
            else:
                device.__exit__(None, None, None)

    def _release(self) -> None:
        self._close_device()


def open_prophesee(rest: str, **kwargs: Any) -> PropheseeSource:
    """The opener of ``prophesee:`` and ``prophesee:SERIAL``, with :data:`URI_OPTIONS` after ``?``."""
    serial, kwargs = split_options("prophesee", rest, URI_OPTIONS, kwargs)
    return PropheseeSource(serial, **kwargs)
