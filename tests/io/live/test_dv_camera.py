"""``dv:`` without a camera: the no-device path for real, and the camera path with a recorded
AEDAT 4 file standing in for a DAVIS (dv-processing's MonoCameraRecording has the camera's
reading API: events, APS frames, IMU, triggers, and ``isRunning()`` turning false at its end, as
an unplugged camera does)."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import concat_events, from_dv_structured, make_events, open_source
from spikesight.io.live import DeviceNotFound, LiveSourceError, SourceDisconnected
from spikesight.io.live import dv as live_dv
from spikesight.io.live.devices import scan

dv = pytest.importorskip("dv_processing")

W, H = 32, 24
T = 1_000_000
SERIAL = "00000499"


def camera_events(i: int) -> np.ndarray:
    """Batch ``i``: event k at t = T + 10000 i + 10 k, x = k % 32, y = (k + i) % 24, p = k % 2."""
    k = np.arange(50)
    return make_events(k % W, (k + i) % H, k % 2, T + 10_000 * i + 10 * k)


@pytest.fixture
def davis_file(tmp_path):
    """A DAVIS-like recording: 3 packets of events, an APS frame, an IMU sample and a rising edge each."""
    path = tmp_path / "davis.aedat4"
    cfg = dv.io.MonoCameraWriter.Config(f"DAVIS346_{SERIAL}")
    cfg.addEventStream((W, H))
    cfg.addFrameStream((W, H))
    cfg.addImuStream()
    cfg.addTriggerStream()
    w = dv.io.MonoCameraWriter(str(path), cfg)
    for i in range(3):
        store = dv.EventStore()
        for e in camera_events(i):
            store.push_back(int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
        w.writeEvents(store)
        w.writeFrame(dv.Frame(T + 10_000 * i + 5, np.full((H, W), 10 * i, np.uint8)))
        w.writeImu(dv.IMU(T + 10_000 * i + 7, 30.0, 0.5 * i, 0.0, 9.81, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0))
        trig = dv.TriggerPacket()
        trig.elements = dv.TriggerPacket.TriggersVector(
            [dv.Trigger(T + 10_000 * i + 8, dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE)])
        w.writeTriggerPacket(trig)
    del w  # dv-processing finishes the file when its writer is destroyed
    return path


@pytest.fixture
def fake_camera(monkeypatch, davis_file):
    """FAKE dv.io.camera.discover/open: one 'camera' whose input is the recording above."""
    desc = types.SimpleNamespace(serialNumber=SERIAL, cameraModel="CameraModel.DAVIS", busNumber=2,
                                 devAddress=5, firmwareVersion=7)
    opened = []

    def fake_open(descriptor, *args):
        opened.append(descriptor)
        return dv.io.MonoCameraRecording(str(davis_file))

    monkeypatch.setattr(dv.io.camera, "discover", lambda: [desc])
    monkeypatch.setattr(dv.io.camera, "open", fake_open)
    return opened


def test_no_camera_is_a_clear_error_naming_the_back_end():
    if dv.io.camera.discover():
        pytest.skip("a real iniVation camera is plugged in")
    with pytest.raises(DeviceNotFound, match="no iniVation camera") as info:
        open_source("dv:")
    assert info.value.backend == "dv"
    assert live_dv.discover() == []
    [report] = scan(["dv"])
    assert report.installed and report.devices == [] and report.note == "none found"


def test_a_camera_gives_its_events_frames_imu_and_triggers(fake_camera):
    src = open_source("dv:")
    try:
        assert (src.info.width, src.info.height) == (W, H)
        meta = src.info.metadata
        assert (meta["model"], meta["serial"], meta["firmware"]) == ("DAVIS346", SERIAL, "7")
        got = []
        with pytest.raises(SourceDisconnected, match="isRunning"):
            for s in src.slices(delta_t=4_000):
                got.append(s)
        np.testing.assert_array_equal(concat_events(got), concat_events([camera_events(i) for i in range(3)]))
        frames = src.take_frames()
        assert [f.t for f in frames] == [T + 5, T + 10_005, T + 20_005]
        assert [int(f.image.max()) for f in frames] == [0, 10, 20]
        assert frames[0].image.shape[:2] == (H, W)
        imu = src.take_imu()
        assert imu["t"].tolist() == [T + 7, T + 10_007, T + 20_007]
        np.testing.assert_allclose(imu["ax"], [0.0, 0.5, 1.0])
        np.testing.assert_allclose(imu["az"], 9.81, rtol=1e-6)
        assert len(src.take_imu()) == 0  # taken once
        assert src.triggers["t"].tolist() == [T + 8, T + 10_008, T + 20_008]
        assert src.triggers["p"].tolist() == [1, 1, 1]
    finally:
        src.close()


def test_a_camera_by_serial(fake_camera):
    with open_source(f"dv:{SERIAL}") as src:
        assert src.info.metadata["serial"] == SERIAL
    assert fake_camera[0].serialNumber == SERIAL
    with pytest.raises(DeviceNotFound, match=f"no camera with serial 'DXA1' \\(found: {SERIAL}\\)"):
        open_source("dv:DXA1")


def test_discovery_lists_the_camera(fake_camera):
    [report] = scan(["dv"])
    assert [(d.uri, d.model, d.serial) for d in report.devices] == [(f"dv:{SERIAL}", "DAVIS", SERIAL)]


def test_settings_the_camera_lacks_are_a_clear_error(fake_camera):
    with pytest.raises(LiveSourceError, match="this camera has no bias 'contrast_on'"):
        open_source("dv:", biases={"contrast_on": 3})
    with pytest.raises(LiveSourceError, match="cannot apply the settings"):
        open_source("dv:", roi=(0, 0, 16, 12))


def test_dv_processing_1_7_camera_api(monkeypatch, davis_file):
    """dv-processing 1.7 (older and Intel macOS): discoverDevices() names and CameraCapture."""
    fake = types.SimpleNamespace(  # FAKE 1.7 module: the real 2.0 noise filters, the 1.7 camera API
        io=types.SimpleNamespace(
            discoverDevices=lambda: [f"DAVIS346_{SERIAL}"],
            CameraCapture=lambda cameraName: dv.io.MonoCameraRecording(str(davis_file))),
        noise=dv.noise)
    monkeypatch.setattr(live_dv, "dv_module", lambda: fake)
    assert live_dv.discover() == [(f"dv:{SERIAL}", "DAVIS346", SERIAL)]
    with open_source(f"dv:{SERIAL}") as src:
        assert src.info.metadata["serial"] == SERIAL and src.info.metadata["model"] == "DAVIS346"
    with open_source("dv:") as src:
        got = []
        with pytest.raises(SourceDisconnected):
            for e in src:
                got.append(e)
    np.testing.assert_array_equal(concat_events(got), concat_events([camera_events(i) for i in range(3)]))
    with pytest.raises(DeviceNotFound, match="no camera with serial"):
        open_source("dv:NOPE")


DV_RECORD = np.dtype([("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "i1")])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**62), st.integers(0, 2047), st.integers(0, 2047), st.booleans()),
                max_size=50))
def test_the_fast_conversion_gives_the_plain_one(rows):
    arr = np.array(rows, DV_RECORD) if rows else np.empty(0, DV_RECORD)
    np.testing.assert_array_equal(live_dv.dv_to_events(arr), from_dv_structured(arr))
