"""``prophesee:`` through neuromorphic-drivers: the real package's no-device path where it is
installed, and a FAKE of its documented API (see fakes.py) for the data path, biases and an unplug."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


ALL = (1 << 64) - 1


def test_a_region_of_interest_in_the_uri_masks_every_other_row_and_column(monkeypatch):
    device = FakeNdDevice([])
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with open_source("prophesee:?roi=576,296,100,100") as src:
        assert (src.info.width, src.info.height) == (1280, 720)  # events keep sensor coordinates
        assert src.info.metadata["roi"] == "576,296,100,100"
    [cfg] = device.configurations
    # columns 576..675 on (bits clear): word 9 holds columns 576..639, word 10 640..703 (its
    # bits 0..35 clear); every other column of the 1280 (20 words) is off
    assert cfg.x_mask == (ALL,) * 9 + (0, ALL ^ ((1 << 36) - 1)) + (ALL,) * 9
    # rows 296..395 on: word 4 holds rows 256..319 (bits 40..63 clear), word 5 320..383, word 6
    # 384..447 (bits 0..11 clear); word 11 holds rows 704..767, of which 720..767 are past the sensor
    rows = ((1 << 40) - 1, 0, ALL ^ ((1 << 12) - 1))
    assert cfg.y_mask == (ALL,) * 4 + rows + (ALL,) * 4 + ((1 << 16) - 1,)
    assert cfg.mask_intersection_only is False  # off when its row OR its column is masked
    assert vars(cfg.biases) == vars(type(cfg.biases)())  # biases left as they were


def test_roi_and_biases_together_go_in_one_configuration(monkeypatch):
    device = FakeNdDevice([])
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with open_source("prophesee:00051A2B?biases=diff_on:30,hpf:5&roi=0,0,64,1") as src:
        assert src.info.metadata["biases"] == "diff_on=30,hpf=5"
    [cfg] = device.configurations
    assert {k: v for k, v in vars(cfg.biases).items() if v} == {"diff_on": 30, "hpf": 5}
    assert cfg.x_mask[0] == 0 and cfg.x_mask[1] == ALL and cfg.y_mask[0] == ALL ^ 1


def test_a_davis_346_takes_its_region_of_interest(monkeypatch):
    device = FakeNdDevice([], name=FakeName.INIVATION_DAVIS346, width=346, height=260)
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with open_source("prophesee:", roi=(10, 20, 100, 50)):
        pass
    [cfg] = device.configurations
    assert vars(cfg.region_of_interest) == {"left": 10, "top": 20, "width": 100, "height": 50}


@pytest.mark.parametrize(("uri", "kw", "error", "message"), [
    ("prophesee:?roi=1200,0,100,10", {}, LiveSourceError, "does not lie within the 1280x720 sensor"),
    ("prophesee:?roi=1,2,3", {}, ValueError, "four integers"),
    ("prophesee:?roi=0,0,0,10", {}, ValueError, "width and height > 0"),
    ("prophesee:?gain=3", {}, ValueError, "unknown option 'gain' \\(options: biases, roi\\)"),
    ("prophesee:?roi", {}, ValueError, "needs a value"),
    ("prophesee:?biases=diff_on:x", {}, ValueError, "not name:integer"),
    ("prophesee:?roi=0,0,8,8", {"roi": (0, 0, 8, 8)}, ValueError, "both in the URI and as an argument"),
])
def test_bad_uri_options_are_refused_naming_them(monkeypatch, uri, kw, error, message):
    device = FakeNdDevice([])
    nd = fake_neuromorphic_drivers([device])
    use(monkeypatch, nd)
    with pytest.raises(error, match=message):
        open_source(uri, **kw)
    assert device.configurations == [] and all(d.closed.is_set() for d in nd.opened)  # none left open


def test_a_device_without_a_region_of_interest_refuses_one(monkeypatch):
    device = FakeNdDevice([], name=FakeName.INIVATION_DVXPLORER, width=640, height=480)
    use(monkeypatch, fake_neuromorphic_drivers([device]))
    with pytest.raises(LiveSourceError, match="cannot be set on a iniVation DVXplorer"):
        open_source("prophesee:?roi=0,0,10,10")
    assert device.closed.is_set()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_masks_equal_neuromorphic_drivers_own_row_column_mask(data):
    """The real package's ``RowColumnMask`` (its region-of-interest example) gives the same words."""
    nd = pytest.importorskip("neuromorphic_drivers")
    x = data.draw(st.integers(0, 1279))
    y = data.draw(st.integers(0, 719))
    w = data.draw(st.integers(1, 1280 - x))
    h = data.draw(st.integers(1, 720 - y))
    mask = nd.prophesee_evk4.RowColumnMask(set=True)
    mask.clear_rectangle(x=x, y=y, width=w, height=h)
    assert live_prophesee.roi_masks(1280, 720, (x, y, w, h), 20, 12) == (mask.x_mask(), mask.y_mask())
