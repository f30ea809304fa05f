"""iniVation cameras (DAVIS, DVXplorer) through dv-processing: ``dv:`` (the first) or ``dv:SERIAL``.

dv-processing 2.x finds cameras with ``dv.io.camera.discover()`` and opens one with
``dv.io.camera.open(descriptor)``; 1.7 (the only wheel for older and Intel macOS) has
``dv.io.discoverDevices()`` and ``dv.io.CameraCapture(cameraName=...)``: both are handled. Cameras,
network streams and recordings share dv-processing's ``InputBase`` reading API, so
:class:`DvInputSource` reads all of them: its reader thread polls ``getNextEventBatch()`` (which
never blocks: ``None`` when nothing is ready; a camera that is gone shows as ``isRunning()``
turning false) and converts each ``EventStore`` to :data:`~spikesight.io.events.EVENT_DTYPE` with
column copies, no per-event Python loop.

APS frames and IMU samples, where the camera has them, are kept apart from the events:
:meth:`DvInputSource.take_frames` (the newest few; older ones are dropped and counted) and
:meth:`DvInputSource.take_imu` (bounded). External signal edges become triggers.

Settings: ``roi=(x, y, width, height)`` (``setCropArea``), ``noise_filter_us`` (dv-processing's
``BackgroundActivityNoiseFilter``, run on each batch in the reader thread), and ``biases``: raw
values, ``{"contrast_on": n, "contrast_off": n}`` on a DVXplorer, the names of
``DAVIS.Davis346BiasVDAC`` (voltage biases) on a DAVIS 346; or a sensitivity preset of DV's
(:data:`SENSITIVITY_PRESETS`: ``very_low``, ``low``, ``default``, ``high``, ``very_high``; a more
sensitive camera sends more events for the same scene, and more noise):

* dv-processing 1.7 has DV's presets for a DVXplorer (``CameraCapture.setDVSBiasSensitivity``),
  used as they are.
* dv-processing 2.x has none. A DVXplorer's ON and OFF contrast thresholds (0-17; higher means a
  larger contrast is needed) move by :data:`DVX_THRESHOLD_STEP` per preset step from the values
  the camera opened with; a DAVIS 346's ON and OFF threshold biases (coarse/fine currents)
  have their fine value scaled by :data:`DAVIS_FINE_FACTOR` per step, the coarse value kept: a
  larger ON current raises the ON threshold, a smaller OFF current raises the OFF threshold.
  These steps are ours (no camera was at hand to tune them): presets make a camera more or less
  sensitive in DV's sense, not bit-identical to DV.

The settings can be written in the URI: ``dv:[SERIAL]?roi=x,y,w,h&biases=low&noise_filter_us=1000``
(raw biases as ``biases=contrast_on:3,contrast_off:3``), see :mod:`.options`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from numba import njit

from ..events import EVENT_DTYPE, TRIGGER_DTYPE, empty_events
from .base import BackendUnavailable, DeviceNotFound, LiveBatch, LiveSource, LiveSourceError
from .options import parse_biases, parse_int, parse_roi, split_options

log = logging.getLogger(__name__)

#: Seconds the reader thread sleeps when dv-processing has nothing ready.
POLL_S = 0.001
#: APS frames kept for :meth:`DvInputSource.take_frames` (the newest win).
MAX_FRAMES = 4
#: IMU samples kept for :meth:`DvInputSource.take_imu` (the newest win).
MAX_IMU = 100_000
IMU_DTYPE = np.dtype([("t", "<i8"), ("ax", "<f4"), ("ay", "<f4"), ("az", "<f4"),
                      ("gx", "<f4"), ("gy", "<f4"), ("gz", "<f4"), ("temperature", "<f4")])
# dv's TriggerType values of the two external signal edges (the only triggers returned).
_RISING, _FALLING = 1, 2
#: DV's sensitivity presets, least sensitive first, and each one's steps from the default.
SENSITIVITY_PRESETS = {"very_low": -2, "low": -1, "default": 0, "high": 1, "very_high": 2}
#: dv-processing 1.7's ``CameraCapture.BiasSensitivity`` member of each preset.
_LEGACY_PRESETS = {"very_low": "VeryLow", "low": "Low", "default": "Default", "high": "High",
                   "very_high": "VeryHigh"}
#: DVXplorer contrast-threshold units per preset step (dv-processing 2.x; the range is 0-17).
DVX_THRESHOLD_STEP = 2
DVX_THRESHOLD_MAX = 17
#: Factor on the fine value of a DAVIS 346's ON and OFF threshold biases per preset step.
DAVIS_FINE_FACTOR = 1.5
#: What ``dv:SERIAL?...`` takes, and how each value is read.
URI_OPTIONS = {"roi": parse_roi, "biases": parse_biases, "noise_filter_us": parse_int,
               "packet_interval_us": parse_int}


def dv_module():
    """dv_processing, or :class:`BackendUnavailable` saying how to install it."""
    try:
        import dv_processing
    except ImportError as exc:
        raise BackendUnavailable("dv", "iniVation cameras and DV streams need dv-processing: "
                                       "pip install 'spikesight[dv]' (or pip install dv-processing)") from exc
    return dv_processing


def dv_message(exc: BaseException) -> str:
    """dv-processing's error text without its C++ stack trace."""
    text = str(exc)
    if "Error info:" in text:
        text = text.split("Error info:", 1)[1]
    text = text.split("Stacktrace:", 1)[0].strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


# the records of dv-processing's ``EventStore.numpy()`` (2.x)
DV_RECORDS = np.dtype({"names": ["timestamp", "x", "y", "polarity"], "formats": ["<i8", "<i2", "<i2", "i1"],
                       "offsets": [0, 8, 10, 12], "itemsize": 16})


@njit(cache=True, nogil=True)
def _fill_events(t, x, y, polarity, out) -> None:
    for i in range(t.shape[0]):
        out[i].x = x[i]
        out[i].y = y[i]
        out[i].p = polarity[i]
        out[i].t = t[i]


def dv_to_events(arr: np.ndarray) -> np.ndarray:
    """dv-processing's ``EventStore.numpy()`` records (timestamp, x, y, polarity) as events, in one
    pass that lets other threads run (the same values as :func:`~spikesight.io.events.from_dv_structured`)."""
    out = np.empty(len(arr), EVENT_DTYPE)
    if len(arr):
        _fill_events(arr["timestamp"], arr["x"], arr["y"], arr["polarity"], out)
    return out


def split_camera_name(name: str) -> tuple[str, str]:
    """``"DVXplorer_DXA00093"`` -> ``("DVXplorer", "DXA00093")`` (dv names cameras MODEL_SERIAL)."""
    model, sep, serial = name.rpartition("_")
    return (model, serial) if sep and model else (name, "")


@dataclass
class ApsFrame:
    """A grey-level (APS) frame of a DAVIS: ``t`` its timestamp (µs), ``image`` as the camera gave it."""

    t: int
    image: np.ndarray
    exposure_us: int = 0


class DvInputSource(LiveSource):
    """Reads a dv-processing ``InputBase`` (camera, network stream or recording) in the reader
    thread. Subclasses open the input and call :meth:`_attach`."""

    backend = "dv"

    def __init__(self, uri: str, *, noise_filter_us: int = 0, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self._dv = dv_module()
        # compile the conversion now, in this thread, before any stream is open: a first compile
        # in the reader thread takes seconds with a cold numba cache, and dv-processing silently
        # drops what a client does not read in time
        dv_to_events(np.zeros(2, dtype=DV_RECORDS))
        self._input: Any = None
        self._filter: Any = None
        self.noise_filter_us = int(noise_filter_us)
        self._frames: deque[ApsFrame] = deque(maxlen=MAX_FRAMES)
        self._imu: deque[np.ndarray] = deque()
        self._imu_count = 0
        self._aux_lock = threading.Lock()  # frames and IMU: filled by the reader, taken by the user
        self.dropped_frames = 0
        self.dropped_imu = 0

    def _attach(self, reader: Any, **metadata: Any) -> None:
        """Take ``reader`` (open), set ``info`` from it, and start reading."""
        self._input = reader
        res = reader.getEventResolution() if reader.isEventStreamAvailable() else None
        if res is None:
            self._input = None
            raise LiveSourceError(self.backend, "the input has no event stream", self.uri)
        width, height = int(res[0]), int(res[1])
        model, serial = split_camera_name(reader.getCameraName())
        metadata = {"camera": reader.getCameraName(), "model": model, "serial": serial, **metadata}
        if self.noise_filter_us > 0:
            self._filter = self._dv.noise.BackgroundActivityNoiseFilter(
                (width, height), backgroundActivityDuration=timedelta(microseconds=self.noise_filter_us))
            metadata["noise_filter_us"] = self.noise_filter_us
        self.info = self._live_info(width, height, **metadata)
        self._start()

    def _read(self) -> Iterator[LiveBatch | None]:
        r = self._input
        frames = _available(r, "isFrameStreamAvailable")
        imu = _available(r, "isImuStreamAvailable")
        triggers = _available(r, "isTriggerStreamAvailable")
        while not self.stopping():
            if frames:
                self._poll_frames(r)
            if imu:
                self._poll_imu(r)
            trig = self._poll_triggers(r) if triggers else None
            store = r.getNextEventBatch()
            if store is None:
                if trig is not None:
                    yield LiveBatch(empty_events(), trig)
                if not r.isRunning():
                    return
                yield None
                if not self._sleep(POLL_S):
                    return
                continue
            if self._filter is not None:
                self._filter.accept(store)
                store = self._filter.generateEvents()
            yield LiveBatch(dv_to_events(store.numpy()) if len(store) else empty_events(), trig)

    def _end_reason(self) -> str:
        return "the input stopped (isRunning() is false: unplugged, or the stream closed)"

    def _release(self) -> None:
        self._input = None  # dv-processing closes the camera or socket when it is destroyed

    def _poll_frames(self, r: Any) -> None:
        while (f := r.getNextFrame()) is not None:
            frame = ApsFrame(int(f.timestamp), np.array(f.image), _us(f.exposure))
            with self._aux_lock:
                if len(self._frames) == self._frames.maxlen:
                    self.dropped_frames += 1
                self._frames.append(frame)

    def _poll_imu(self, r: Any) -> None:
        while (batch := r.getNextImuBatch()) is not None:
            n = len(batch)
            if not n:
                continue
            arr = np.empty(n, IMU_DTYPE)
            for i, s in enumerate(batch):  # IMU runs at about 1 kHz: a few samples a packet
                arr[i] = (s.timestamp, s.accelerometerX, s.accelerometerY, s.accelerometerZ,
                          s.gyroscopeX, s.gyroscopeY, s.gyroscopeZ, s.temperature)
            with self._aux_lock:
                self._imu.append(arr)
                self._imu_count += n
                while self._imu_count > MAX_IMU and len(self._imu) > 1:
                    old = self._imu.popleft()
                    self._imu_count -= len(old)
                    self.dropped_imu += len(old)

    def _poll_triggers(self, r: Any) -> np.ndarray | None:
        out = []
        while (batch := r.getNextTriggerBatch()) is not None:
            for trig in batch:
                kind = int(trig.type)
                if kind in (_RISING, _FALLING):
                    out.append((1 if kind == _RISING else 0, int(trig.timestamp), 0))
        return np.array(out, TRIGGER_DTYPE) if out else None

    def take_frames(self) -> list[ApsFrame]:
        """APS frames received since the last call (the newest :data:`MAX_FRAMES`)."""
        with self._aux_lock:
            out = list(self._frames)
            self._frames.clear()
        return out

    def take_imu(self) -> np.ndarray:
        """IMU samples (:data:`IMU_DTYPE`) received since the last call."""
        with self._aux_lock:
            parts = list(self._imu)
            self._imu.clear()
            self._imu_count = 0
        return np.concatenate(parts) if parts else np.empty(0, IMU_DTYPE)


def _us(value: Any) -> int:
    """A dv duration (``timedelta`` or µs) in µs."""
    return round(value / timedelta(microseconds=1)) if isinstance(value, timedelta) else int(value)


def _available(reader: Any, method: str) -> bool:
    fn = getattr(reader, method, None)
    try:
        return bool(fn()) if fn is not None else False
    except RuntimeError:
        return False


class DvCameraSource(DvInputSource):
    """A DAVIS or DVXplorer through dv-processing (``dv:`` or ``dv:SERIAL``)."""

    backend = "dv"

    def __init__(self, serial: str = "", *, roi: tuple[int, int, int, int] | None = None,
                 biases: str | dict[str, int] | None = None, packet_interval_us: int | None = None,
                 **kwargs: Any) -> None:
        serial = serial.strip()
        super().__init__(f"dv:{serial}", **kwargs)
        dv = self._dv
        cam, desc = _open_camera(dv, serial, self.uri)
        try:
            if packet_interval_us is not None:
                cam.setTimeInterval(timedelta(microseconds=int(packet_interval_us)))
            if roi is not None:
                cam.setCropArea(tuple(int(v) for v in roi))
            if isinstance(biases, str):
                _set_preset(dv, cam, biases, self.uri)
            elif biases:
                _set_biases(dv, cam, biases, self.uri)
        except (AttributeError, RuntimeError, TypeError, ValueError) as exc:
            raise LiveSourceError("dv", f"cannot apply the settings: {dv_message(exc)}", self.uri) from exc
        meta = {}
        if desc is not None:
            meta = {"firmware": getattr(desc, "firmwareVersion", None),
                    "usb": f"bus {desc.busNumber} address {desc.devAddress}"}
        if roi is not None:
            meta["roi"] = ",".join(str(int(v)) for v in roi)
        if biases:
            meta["biases"] = (biases if isinstance(biases, str)
                              else ",".join(f"{k}={v}" for k, v in biases.items()))
        self._attach(cam, **meta)


def _open_camera(dv: Any, serial: str, uri: str) -> tuple[Any, Any]:
    """Open the camera with ``serial`` (the first one when empty) with dv-processing 2.x or 1.7."""
    if hasattr(dv.io, "camera"):
        descs = list(dv.io.camera.discover())
        if not descs:
            raise DeviceNotFound("dv", "dv-processing finds no iniVation camera", uri)
        if serial:
            match = [d for d in descs if d.serialNumber == serial]
            if not match:
                found = ", ".join(d.serialNumber for d in descs)
                raise DeviceNotFound("dv", f"no camera with serial {serial!r} (found: {found})", uri)
            desc = match[0]
        else:
            desc = descs[0]
        try:
            return dv.io.camera.open(desc), desc
        except (RuntimeError, IndexError) as exc:
            raise LiveSourceError("dv", f"cannot open camera {desc.serialNumber}: {dv_message(exc)}",
                                  uri) from exc
    names = list(dv.io.discoverDevices())  # dv-processing 1.7
    if not names:
        raise DeviceNotFound("dv", "dv-processing finds no iniVation camera", uri)
    if serial:
        match = [n for n in names if split_camera_name(n)[1] == serial]
        if not match:
            raise DeviceNotFound("dv", f"no camera with serial {serial!r} (found: {', '.join(names)})", uri)
        name = match[0]
    else:
        name = names[0]
    try:
        return dv.io.CameraCapture(cameraName=name), None
    except RuntimeError as exc:
        raise LiveSourceError("dv", f"cannot open camera {name}: {dv_message(exc)}", uri) from exc


def _set_biases(dv: Any, cam: Any, biases: dict[str, int], uri: str) -> None:
    """Raw biases: DVXplorer contrast thresholds, or DAVIS 346 voltage biases by name."""
    for name, value in biases.items():
        if name in ("contrast_on", "contrast_off") and hasattr(cam, "setContrastThresholdOn"):
            (cam.setContrastThresholdOn if name == "contrast_on" else cam.setContrastThresholdOff)(int(value))
            continue
        vdac = getattr(getattr(dv.io.camera, "DAVIS", None), "Davis346BiasVDAC", None)
        if vdac is not None and hasattr(cam, "setDavis346BiasVoltage") and name in vdac.__members__:
            cam.setDavis346BiasVoltage(vdac.__members__[name], int(value))
            continue
        raise LiveSourceError("dv", f"this camera has no bias {name!r}", uri)


def _set_preset(dv: Any, cam: Any, preset: str, uri: str) -> None:
    """One of DV's sensitivity presets (see the module's docstring for how each camera gets it)."""
    if preset not in SENSITIVITY_PRESETS:
        raise LiveSourceError("dv", f"unknown bias preset {preset!r}; presets: {list(SENSITIVITY_PRESETS)}",
                              uri)
    step = SENSITIVITY_PRESETS[preset]
    if hasattr(cam, "setDVSBiasSensitivity"):  # dv-processing 1.7: DV's own presets (DVXplorer)
        value = getattr(dv.io.CameraCapture.BiasSensitivity, _LEGACY_PRESETS[preset])
        if cam.setDVSBiasSensitivity(value) is False:
            raise LiveSourceError("dv", "dv-processing 1.7 has sensitivity presets for a DVXplorer only", uri)
    elif hasattr(cam, "setContrastThresholdOn"):  # a DVXplorer, dv-processing 2.x
        for get, put in ((cam.getContrastThresholdOn, cam.setContrastThresholdOn),
                         (cam.getContrastThresholdOff, cam.setContrastThresholdOff)):
            put(min(max(int(get()) - step * DVX_THRESHOLD_STEP, 0), DVX_THRESHOLD_MAX))
    elif hasattr(cam, "setDavis346BiasCoarseFine"):  # a DAVIS 346, dv-processing 2.x
        cf = dv.io.camera.DAVIS.Davis346BiasCF
        for bias, sign in ((cf.On, -1), (cf.Off, 1)):
            coarse, fine = cam.getDavis346BiasCoarseFine(bias)
            scaled = round(int(fine) * DAVIS_FINE_FACTOR ** (sign * step))
            cam.setDavis346BiasCoarseFine(bias, int(coarse), min(max(scaled, 1), 255))
    else:
        raise LiveSourceError("dv", "this camera has no sensitivity presets", uri)


def uri_options(model: str) -> str:
    """The URI options a camera of ``model`` (as :func:`discover` names it) takes, for listings."""
    raw = "contrast_on:n,contrast_off:n" if "XPLORER" in model.upper() else "name:value,..."
    return (f"roi=x,y,w,h&biases={'|'.join(SENSITIVITY_PRESETS)}|{raw}"
            "&noise_filter_us=N&packet_interval_us=N")


def discover() -> list[tuple[str, str, str]]:
    """``(uri, model, serial)`` of each iniVation camera dv-processing finds."""
    dv = dv_module()
    if hasattr(dv.io, "camera"):
        return [(f"dv:{d.serialNumber}", str(d.cameraModel).rsplit(".", 1)[-1], d.serialNumber)
                for d in dv.io.camera.discover()]
    out = []
    for name in dv.io.discoverDevices():
        model, serial = split_camera_name(name)
        out.append((f"dv:{serial}", model, serial))
    return out


def open_dv(rest: str, **kwargs: Any) -> DvCameraSource:
    """The opener of ``dv:`` and ``dv:SERIAL``, with :data:`URI_OPTIONS` after ``?``."""
    serial, kwargs = split_options("dv", rest, URI_OPTIONS, kwargs)
    return DvCameraSource(serial, **kwargs)
