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
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..events import EVENT_DTYPE, TRIGGER_DTYPE
from .base import BackendUnavailable, DeviceNotFound, LiveBatch, LiveSource, LiveSourceError

log = logging.getLogger(__name__)

#: Seconds one step of the device iterator waits for a packet (how soon a close is noticed).
ITERATOR_TIMEOUT_S = 0.05
#: Changes to the default biases of Prophesee sensors (IMX636 EVK4, Gen4.1 EVK3 HD), in bias steps.
BIAS_PRESETS: dict[str, dict[str, int]] = {
    "default": {},
    "less_sensitive": {"diff_on": 20, "diff_off": -20},
    "more_sensitive": {"diff_on": -12, "diff_off": 12},
}


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


class PropheseeSource(LiveSource):
    """A camera through neuromorphic-drivers; ``biases`` a preset name or raw values (see the
    module's docstring)."""

    backend = "prophesee"

    def __init__(self, serial: str = "", *, biases: str | dict[str, int] | None = None,
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
            if biases is not None:
                self._apply_biases(biases)
        except (RuntimeError, LiveSourceError, ValueError, TypeError) as exc:
            self._close_device()
            if isinstance(exc, LiveSourceError):
                raise
            raise LiveSourceError("prophesee", f"cannot set the camera up: {exc}", self.uri) from exc
        self._dropped_packets = 0
        self.info = self._live_info(props.width, props.height, model=name, serial=dev_serial,
                                    biases=biases if isinstance(biases, str) else
                                    (",".join(f"{k}={v}" for k, v in biases.items()) if biases else None))
        self._start()

    def _apply_biases(self, biases: str | dict[str, int]) -> None:
        """Build the device's Configuration with these biases and send it."""
        module = self._config_module()
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
        self._device.update_configuration(module.Configuration(biases=module.Biases(**values)))

    def _config_module(self) -> Any:
        """The neuromorphic-drivers module of this device's configuration (``nd.prophesee_evk4``...)."""
        name = self._device.name()
        key = getattr(name, "name", str(name)).lower()
        module = getattr(self._nd, key, None)
        if module is None or not hasattr(module, "Biases"):
            raise LiveSourceError("prophesee", f"biases cannot be set on a {_name_text(name)} here", self.uri)
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
    """The opener of ``prophesee:`` and ``prophesee:SERIAL``."""
    return PropheseeSource(rest, **kwargs)
