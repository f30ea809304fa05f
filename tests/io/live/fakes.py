"""FAKES, for the tests only: stand-ins of back-end APIs that need a camera.

Each fake follows the documented API of its back end, nothing more (sources: the
neuromorphic-drivers 0.18 wheel's ``__init__.py``/``device.py``/``status.py`` and README; the
Metavision SDK's ``metavision_core.event_io.EventsIterator`` docs and OpenEB's HAL bindings):

* :func:`fake_neuromorphic_drivers`: ``list_devices()`` -> ``ListedDevice(name, connection,
  address, serial, error)``; ``open(serial=..., iterator_timeout=...)`` -> a device that is a
  context manager with ``name()``, ``serial()``, ``properties().width/.height``,
  ``biases_bounds()``, ``update_configuration(cfg)``, and iterates ``(status, packet)``, where
  ``packet.polarity_events`` has fields ``t <u8, x <u2, y <u2, on ?`` and ``status.ring`` has
  ``dropped_packets``. Everything fails with ``RuntimeError``, as the real package does.
  Configurations: the EVK4's (``biases``, ``x_mask`` 20 words, ``y_mask`` 12 words,
  ``mask_intersection_only``) and the DAVIS 346's (``biases``, ``region_of_interest``).
* :func:`fake_metavision`: modules ``metavision_core.event_io`` (``EventsIterator`` yielding
  EventCD arrays ``x, y, p, t``, empty ones for empty slices, ``get_size() -> (height, width)``,
  ``OSError`` when there is no camera) and ``metavision_hal`` (``DeviceDiscovery.list/open``,
  ``get_i_ll_biases().get/set``).

None of this is used by the library; the real packages replace it on a machine with a camera.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import types
from collections.abc import Sequence

import numpy as np

ND_POLARITY = np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
ND_TRIGGER = np.dtype([("t", "<u8"), ("id", "<u1"), ("rising", "?")])
EVENT_CD = np.dtype({"names": ["x", "y", "p", "t"], "formats": ["<u2", "<u2", "<i2", "<i8"],
                     "offsets": [0, 2, 4, 8], "itemsize": 16})


# -- neuromorphic-drivers ----------------------------------------------------------------------


class FakeName(enum.Enum):
    """FAKE of ``neuromorphic_drivers.Name`` (two members)."""

    PROPHESEE_EVK4 = "Prophesee EVK4"
    INIVATION_DVXPLORER = "iniVation DVXplorer"
    INIVATION_DAVIS346 = "iniVation DAVIS 346"


@dataclasses.dataclass
class FakeEvk4Biases:
    """FAKE of ``neuromorphic_drivers.prophesee_evk4.Biases`` (offsets from the chip's biases; 0 default)."""

    pr: int = 0
    fo: int = 0
    hpf: int = 0
    diff_on: int = 0
    diff: int = 0
    diff_off: int = 0


@dataclasses.dataclass
class FakeEvk4Configuration:
    """FAKE of ``neuromorphic_drivers.prophesee_evk4.Configuration`` (masks: set bits are off)."""

    biases: FakeEvk4Biases = dataclasses.field(default_factory=FakeEvk4Biases)
    x_mask: tuple[int, ...] = (0,) * 20
    y_mask: tuple[int, ...] = (0,) * 12
    mask_intersection_only: bool = False


@dataclasses.dataclass
class FakeDavis346Biases:
    """FAKE of ``neuromorphic_drivers.inivation_davis346.Biases`` (two of its fields)."""

    onbn: int = 1535
    offbn: int = 1155


@dataclasses.dataclass
class FakeRegionOfInterest:
    """FAKE of ``neuromorphic_drivers.inivation_davis346.RegionOfInterest``."""

    left: int = 0
    top: int = 0
    width: int = 346
    height: int = 260


@dataclasses.dataclass
class FakeDavis346Configuration:
    """FAKE of ``neuromorphic_drivers.inivation_davis346.Configuration`` (its ROI and biases)."""

    biases: FakeDavis346Biases = dataclasses.field(default_factory=FakeDavis346Biases)
    region_of_interest: FakeRegionOfInterest = dataclasses.field(default_factory=FakeRegionOfInterest)


@dataclasses.dataclass(frozen=True)
class FakeBounds:
    minimum: int = 0
    maximum: int = 0


def nd_polarity(t, x, y, on) -> np.ndarray:
    """A ``packet.polarity_events`` array."""
    arr = np.empty(len(t), ND_POLARITY)
    arr["t"], arr["x"], arr["y"], arr["on"] = t, x, y, on
    return arr


class FakeNdDevice:
    """FAKE neuromorphic-drivers device: yields ``(status, packet)`` for each packet given, then
    ``(status, None)`` (an iterator timeout) until closed, or raises ``fail_with`` (an unplug)."""

    def __init__(self, packets: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
                 serial: str = "00051A2B", name: FakeName = FakeName.PROPHESEE_EVK4,
                 width: int = 1280, height: int = 720,
                 fail_with: Exception | None = None, dropped_packets: Sequence[int] = ()) -> None:
        self._packets = list(packets)
        self._serial = serial
        self._name = name
        self._props = types.SimpleNamespace(width=width, height=height)
        self.fail_with = fail_with
        self._dropped = list(dropped_packets)
        self.configurations: list[FakeEvk4Configuration] = []
        self.closed = threading.Event()
        self.iterator_timeout: float | None = None
        self._i = 0

    def __enter__(self) -> FakeNdDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed.set()

    def close(self) -> None:
        self.__exit__(None, None, None)

    def name(self) -> FakeName:
        return self._name

    def serial(self) -> str:
        return self._serial

    def properties(self):
        return self._props

    def biases_bounds(self):
        return types.SimpleNamespace(diff_on=FakeBounds(-85, 140), diff_off=FakeBounds(-35, 190))

    def update_configuration(self, configuration: FakeEvk4Configuration) -> None:
        self.configurations.append(configuration)

    def __iter__(self) -> FakeNdDevice:
        return self

    def __next__(self):
        if self.closed.is_set():
            raise RuntimeError("__next__ called after __exit__")
        i = self._i
        self._i += 1
        dropped = self._dropped[i] if i < len(self._dropped) else (self._dropped[-1] if self._dropped else 0)
        ring = types.SimpleNamespace(backlog=0, dropped_packets=dropped)
        status = types.SimpleNamespace(system_time=0.0, ring=ring)
        if i < len(self._packets):
            pol, trig = self._packets[i]
            return status, types.SimpleNamespace(polarity_events=pol, trigger_events=trig)
        if self.fail_with is not None:
            raise self.fail_with
        self.closed.wait(self.iterator_timeout or 0.01)  # an iterator timeout: no packet
        return types.SimpleNamespace(system_time=0.0, ring=None), None


def fake_neuromorphic_drivers(devices: Sequence[FakeNdDevice] = (), list_error: Exception | None = None,
                              open_error: Exception | None = None) -> types.ModuleType:
    """FAKE ``neuromorphic_drivers`` module serving ``devices`` (none: ``open`` raises, as the real one)."""
    mod = types.ModuleType("neuromorphic_drivers")
    mod.Name = FakeName
    mod.prophesee_evk4 = types.SimpleNamespace(Biases=FakeEvk4Biases, Configuration=FakeEvk4Configuration)
    mod.inivation_davis346 = types.SimpleNamespace(Biases=FakeDavis346Biases,
                                                   Configuration=FakeDavis346Configuration,
                                                   RegionOfInterest=FakeRegionOfInterest)
    mod.opened = []

    def list_devices():
        if list_error is not None:
            raise list_error
        return [types.SimpleNamespace(name=d.name(), connection="USB 3.0 SuperSpeed (5.0 Gb/s)", address="",
                                      serial=d.serial(), error=None) for d in devices]

    def open(configuration=None, iterator_timeout=None, raw=False, serial=None, address=None,
             ring_configuration=None, iterator_maximum_raw_packets=64):
        if open_error is not None:
            raise open_error
        for d in devices:
            if serial is None or d.serial() == serial:
                d.iterator_timeout = iterator_timeout
                mod.opened.append(d)
                return d
        raise RuntimeError("no device found" if serial is None else f'serial "{serial}" not found')

    mod.list_devices = list_devices
    mod.open = open
    return mod


# -- Metavision SDK ------------------------------------------------------------------------------


def event_cd(x, y, p, t) -> np.ndarray:
    """An EventCD array (the SDK's record type)."""
    arr = np.zeros(len(t), EVENT_CD)
    arr["x"], arr["y"], arr["p"], arr["t"] = x, y, p, t
    return arr


class FakeBiasesFacility:
    """FAKE ``I_LL_Biases``: ``get(name)``, ``set(name, value) -> bool``."""

    def __init__(self) -> None:
        self.values = {"bias_diff_on": 102, "bias_diff_off": 73, "bias_fo": 74}

    def get(self, name: str) -> int:
        return self.values[name]

    def set(self, name: str, value: int) -> bool:
        if name not in self.values:
            return False
        self.values[name] = value
        return True


class FakeMvDevice:
    def __init__(self, serial: str) -> None:
        self.serial = serial
        self.biases = FakeBiasesFacility()

    def get_i_ll_biases(self) -> FakeBiasesFacility:
        return self.biases

    def get_i_roi(self):
        return None

    def get_i_hw_identification(self):
        return types.SimpleNamespace(get_serial=lambda: self.serial)


def fake_metavision(cameras: dict[str, list[np.ndarray]], size: tuple[int, int] = (720, 1280),
                    fail_with: Exception | None = None) -> dict[str, types.ModuleType]:
    """FAKE modules ``metavision_core``, ``metavision_core.event_io``, ``metavision_hal``: each camera
    (by serial) yields its arrays, then ends, or raises ``fail_with``. ``size`` is (height, width)."""
    devices = {s: FakeMvDevice(s) for s in cameras}

    class EventsIterator:
        """FAKE ``metavision_core.event_io.EventsIterator`` (live camera input only)."""

        def __init__(self, input_path="", start_ts=0, mode="delta_t", delta_t=10000, n_events=10000,
                     max_duration=None, relative_timestamps=False, _device=None):
            serial = input_path if input_path else next(iter(cameras), None)
            if serial not in cameras:
                raise OSError("Failed to open camera  !")
            self.serial = serial
            self.mode, self.delta_t = mode, delta_t
            self.reader = types.SimpleNamespace(device=_device or devices[serial])
            self._used = False

        @classmethod
        def from_device(cls, device, **kwargs):
            return cls(input_path=device.serial, _device=device, **kwargs)

        def get_size(self):
            return size

        def __iter__(self):
            if self._used:
                raise RuntimeError("an EventsIterator is iterable once")
            self._used = True
            yield from cameras[self.serial]
            if fail_with is not None:
                raise fail_with

    class DeviceDiscovery:
        @staticmethod
        def list():
            return list(cameras)

        @staticmethod
        def open(serial):
            if not serial:
                return next(iter(devices.values()), None)
            return devices.get(serial)

    core = types.ModuleType("metavision_core")
    event_io = types.ModuleType("metavision_core.event_io")
    event_io.EventsIterator = EventsIterator
    core.event_io = event_io
    hal = types.ModuleType("metavision_hal")
    hal.DeviceDiscovery = DeviceDiscovery
    hal.devices = devices
    return {"metavision_core": core, "metavision_core.event_io": event_io, "metavision_hal": hal}
