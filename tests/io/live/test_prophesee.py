"""``prophesee:`` through neuromorphic-drivers: the real package's no-device path where it is
installed, and a FAKE of its documented API (see fakes.py) for the data path, biases and an unplug."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from spikesight.io import concat_events, make_events, open_source
from spikesight.io.live import BackendUnavailable, DeviceNotFound, LiveSourceError, SourceDisconnected
from spikesight.io.live import prophesee as live_prophesee
from spikesight.io.live.devices import scan

from .fakes import ND_TRIGGER, FakeName, FakeNdDevice, fake_neuromorphic_drivers, nd_polarity

WAIT_S = 20.0


def use(monkeypatch, module) -> None:
    monkeypatch.setitem(sys.modules, "neuromorphic_drivers", module)


def packets():
    """Two packets of polarity events (the second with a trigger), and an empty one."""
    p1 = nd_polarity([5, 9, 9], [0, 1279, 3], [0, 719, 4], [True, False, True])
    p2 = nd_polarity([12, 20], [7, 8], [1, 2], [False, False])
    trig = np.zeros(1, ND_TRIGGER)
    trig["t"], trig["id"], trig["rising"] = 15, 0, True
    return [(p1, None), (nd_polarity([], [], [], []), None), (p2, trig)]


WANT = make_events([0, 1279, 3, 7, 8], [0, 719, 4, 1, 2], [1, 0, 1, 0, 0], [5, 9, 9, 12, 20])


def read_all(src):
    got = []
    with pytest.raises(SourceDisconnected) as info:
        for e in src:
            got.append(e)
    return concat_events(got), info.value


def test_the_real_package_without_a_camera_is_none_found():
    nd = pytest.importorskip("neuromorphic_drivers")
    try:
        present = nd.list_devices()
    except RuntimeError:  # no USB at all (a container): what the back end must count as none
        present = []
    if present:
        pytest.skip("a camera is plugged in")
    assert live_prophesee.discover() == []
    with pytest.raises(DeviceNotFound, match="neuromorphic-drivers finds no camera") as info:
        open_source("prophesee:")
    assert info.value.backend == "prophesee"
    with pytest.raises(DeviceNotFound, match="no camera with serial '00000000'"):
        open_source("prophesee:00000000")


def test_events_and_triggers_convert_exactly_and_an_unplug_disconnects(monkeypatch):
    device = FakeNdDevice(packets(), fail_with=RuntimeError("NoDevice"))
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    src = open_source("prophesee:")
    try:
        assert (src.info.width, src.info.height, src.info.format) == (1280, 720, "live")
        assert src.info.metadata["model"] == "Prophesee EVK4" and src.info.metadata["serial"] == "00051A2B"
        events, exc = read_all(src)
        np.testing.assert_array_equal(events, WANT)
        assert src.info.start_time == 5
        assert src.triggers.tolist() == [(1, 15, 0)]
        assert "RuntimeError: NoDevice" in exc.reason and exc.backend == "prophesee"
        assert device.closed.wait(WAIT_S)  # the reader thread let go of the device
    finally:
        src.close()
    assert device.iterator_timeout == live_prophesee.ITERATOR_TIMEOUT_S


def test_a_camera_by_serial_and_one_that_is_not_there(monkeypatch):
    a = FakeNdDevice([], serial="AAAA")
    b = FakeNdDevice(packets(), serial="BBBB", name=FakeName.INIVATION_DVXPLORER, width=640, height=480)
    use(monkeypatch, fake_neuromorphic_drivers([a, b]))
    with open_source("prophesee:BBBB") as src:
        assert (src.info.width, src.info.height) == (640, 480)
        assert src.info.metadata["model"] == "iniVation DVXplorer"
        assert np.array_equal(next(iter(src)), WANT[:3])
    assert b.closed.wait(WAIT_S) and not a.closed.is_set()
    with pytest.raises(DeviceNotFound, match="no camera with serial 'CCCC'"):
        open_source("prophesee:CCCC")


def test_close_stops_an_idle_camera_promptly(monkeypatch):
    device = FakeNdDevice([])  # connected, sends nothing: each step is an iterator timeout
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    src = open_source("prophesee:")
    src.close()
    assert device.closed.is_set()


def test_dropped_usb_packets_are_counted(monkeypatch):
    device = FakeNdDevice(packets(), fail_with=RuntimeError("NoDevice"), dropped_packets=[0, 2, 5])
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with open_source("prophesee:") as src:
        read_all(src)
        assert src.stats.skipped == {"usb_packets_dropped": 5}


@pytest.mark.parametrize(("biases", "want"), [
    ("less_sensitive", {"diff_on": 20, "diff_off": -20}),
    ("more_sensitive", {"diff_on": -12, "diff_off": 12}),
    ({"diff_on": 30, "hpf": 5}, {"diff_on": 30, "hpf": 5}),
])
def test_biases_preset_or_raw(monkeypatch, biases, want):
    device = FakeNdDevice([])
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with open_source("prophesee:", biases=biases) as src:
        assert src.info.metadata["biases"]
    [cfg] = device.configurations
    sent = {k: v for k, v in vars(cfg.biases).items() if v}
    assert sent == want


@pytest.mark.parametrize(("biases", "message"), [
    ("sharpest", "unknown bias preset 'sharpest'"),
    ({"diff_onn": 3}, "no bias \\['diff_onn'\\]"),
    ({"diff_on": 500}, "diff_on=500 is outside \\[-85, 140\\]"),
])
def test_bad_biases_are_refused_and_the_camera_released(monkeypatch, biases, message):
    device = FakeNdDevice([])
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with pytest.raises(LiveSourceError, match=message):
        open_source("prophesee:", biases=biases)
    assert device.closed.is_set() and device.configurations == []


def test_discovery_lists_cameras_and_counts_a_raising_list_as_none(monkeypatch):
    use(monkeypatch, fake_neuromorphic_drivers([FakeNdDevice([], serial="00051A2B")]))
    [report] = scan(["prophesee"])
    assert [(d.uri, d.backend, d.model, d.serial) for d in report.devices] == [
        ("prophesee:00051A2B", "prophesee", "Prophesee EVK4", "00051A2B")]
    use(monkeypatch, fake_neuromorphic_drivers(list_error=RuntimeError("Other error")))
    [report] = scan(["prophesee"])
    assert report.installed and report.devices == [] and report.note == "none found"


def test_without_neuromorphic_drivers_the_error_says_how_to_install(monkeypatch):
    use(monkeypatch, None)  # import neuromorphic_drivers -> ImportError
    with pytest.raises(BackendUnavailable, match="pip install 'spikesight\\[live\\]'"):
        open_source("prophesee:")
    [report] = scan(["prophesee"])
    assert not report.installed and "neuromorphic-drivers" in report.note
