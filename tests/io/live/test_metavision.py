"""``metavision:`` through the Metavision SDK: the clear error when it is not installed, and a
FAKE of its documented API (see fakes.py) for the data path, geometry order, biases and an unplug."""

from __future__ import annotations

import sys

import pytest

from spikesight.io import EVENT_DTYPE, concat_events, open_source
from spikesight.io.live import BackendUnavailable, DeviceNotFound, LiveSourceError, SourceDisconnected
from spikesight.io.live.devices import scan

from .fakes import event_cd, fake_metavision


def use(monkeypatch, modules) -> None:
    for name in ("metavision_core", "metavision_core.event_io", "metavision_hal"):
        monkeypatch.setitem(sys.modules, name, None if modules is None else modules[name])


SLICES = [event_cd([1, 639], [2, 479], [1, 0], [100, 150]), event_cd([], [], [], []),
          event_cd([5], [6], [1], [2_400])]


def read_all(src):
    got = []
    with pytest.raises(SourceDisconnected) as info:
        for e in src:
            got.append(e)
    return concat_events(got), info.value


def test_without_the_sdk_the_error_says_so(monkeypatch):
    use(monkeypatch, None)
    with pytest.raises(BackendUnavailable, match="Metavision SDK or OpenEB") as info:
        open_source("metavision:")
    assert info.value.backend == "metavision" and "prophesee:" in str(info.value)
    [report] = scan(["metavision"])
    assert not report.installed and "not on PyPI" in report.note


def test_events_pass_through_and_the_end_of_the_iterator_is_a_disconnect(monkeypatch):
    use(monkeypatch, fake_metavision({"SN1": SLICES}, size=(480, 640)))
    with open_source("metavision:") as src:
        assert (src.info.width, src.info.height) == (640, 480)  # get_size() is (height, width)
        assert src.info.metadata["serial"] == "SN1"
        events, exc = read_all(src)
    assert events.dtype == EVENT_DTYPE
    assert events.tolist() == [(1, 2, 1, 100), (639, 479, 0, 150), (5, 6, 1, 2_400)]
    assert "iterator ended" in exc.reason


def test_a_runtime_error_mid_stream_is_a_disconnect_with_its_text(monkeypatch):
    use(monkeypatch, fake_metavision({"SN1": SLICES[:1]}, fail_with=RuntimeError("HalConnectionException")))
    with open_source("metavision:SN1") as src:
        events, exc = read_all(src)
    assert len(events) == 2 and "HalConnectionException" in exc.reason


def test_no_camera(monkeypatch):
    use(monkeypatch, fake_metavision({}))
    with pytest.raises(DeviceNotFound, match="the Metavision SDK finds no camera"):
        open_source("metavision:")
    use(monkeypatch, fake_metavision({"SN1": SLICES}))
    with pytest.raises(DeviceNotFound, match="no camera with serial 'SN2'"):
        open_source("metavision:SN2")


def test_bias_presets_change_the_current_biases(monkeypatch):
    mods = fake_metavision({"SN1": SLICES})
    use(monkeypatch, mods)
    with open_source("metavision:", biases="less_sensitive") as src:
        events, _ = read_all(src)
    assert len(events) == 3
    values = mods["metavision_hal"].devices["SN1"].biases.values
    assert values == {"bias_diff_on": 122, "bias_diff_off": 53, "bias_fo": 74}


def test_the_uri_carries_the_settings(monkeypatch):
    mods = fake_metavision({"SN1": SLICES})
    use(monkeypatch, mods)
    with open_source("metavision:SN1?biases=bias_diff_on:110,bias_fo:70") as src:
        read_all(src)
    assert mods["metavision_hal"].devices["SN1"].biases.values == {"bias_diff_on": 110, "bias_diff_off": 73,
                                                                  "bias_fo": 70}
    with pytest.raises(LiveSourceError, match="this camera has no region of interest"):
        open_source("metavision:?roi=0,0,64,48")  # the FAKE device has none, as some SDK devices


def test_discovery(monkeypatch):
    use(monkeypatch, fake_metavision({"SN1": [], "SN2": []}))
    [report] = scan(["metavision"])
    assert [d.uri for d in report.devices] == ["metavision:SN1", "metavision:SN2"]
