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


class FakeDVXplorer:
    """FAKE dv-processing 2.x DVXplorer: the recording's reading API, and contrast thresholds
    (0-17) that start at ``on``/``off`` and record what is set."""

    def __init__(self, recording, on: int = 8, off: int = 1) -> None:
        self._rec = recording
        self.thresholds = {"on": on, "off": off}

    def __getattr__(self, name):
        return getattr(self._rec, name)

    def getContrastThresholdOn(self):
        return self.thresholds["on"]

    def getContrastThresholdOff(self):
        return self.thresholds["off"]

    def setContrastThresholdOn(self, v):
        self.thresholds["on"] = v

    def setContrastThresholdOff(self, v):
        self.thresholds["off"] = v


class FakeDavis:
    """FAKE dv-processing 2.x DAVIS: the recording's reading API, and coarse/fine biases."""

    def __init__(self, recording) -> None:
        self._rec = recording
        cf = dv.io.camera.DAVIS.Davis346BiasCF
        self.cf = {cf.On: (4, 100), cf.Off: (4, 200), cf.Diff: (4, 39)}

    def __getattr__(self, name):
        return getattr(self._rec, name)

    def getDavis346BiasCoarseFine(self, bias):
        return self.cf[bias]

    def setDavis346BiasCoarseFine(self, bias, coarse, fine):
        self.cf[bias] = (coarse, fine)


@pytest.fixture
def fake_model(monkeypatch, davis_file):
    """FAKE dv.io.camera.discover/open whose camera is ``made[0]``, built by the test's factory."""
    made = []

    def use(factory, model="CameraModel.DVXPLORER"):
        desc = types.SimpleNamespace(serialNumber=SERIAL, cameraModel=model, busNumber=2, devAddress=5,
                                     firmwareVersion=7)
        monkeypatch.setattr(dv.io.camera, "discover", lambda: [desc])

        def fake_open(descriptor, *args):
            made.append(factory(dv.io.MonoCameraRecording(str(davis_file))))
            return made[-1]

        monkeypatch.setattr(dv.io.camera, "open", fake_open)
        return made

    return use


@pytest.mark.parametrize(("preset", "on", "off"), [
    ("very_low", 12, 5),  # least sensitive: thresholds up by 2 steps of 2
    ("low", 10, 3),
    ("default", 8, 1),
    ("high", 6, 0),  # OFF clamped at 0
    ("very_high", 4, 0),
])
def test_dvxplorer_sensitivity_presets_move_the_contrast_thresholds(fake_model, preset, on, off):
    made = fake_model(FakeDVXplorer)
    with open_source(f"dv:{SERIAL}?biases={preset}") as src:
        assert src.info.metadata["biases"] == preset
    assert made[0].thresholds == {"on": on, "off": off}


def test_thresholds_stay_within_the_dvxplorer_range(fake_model):
    made = fake_model(lambda rec: FakeDVXplorer(rec, on=16, off=17))
    with open_source("dv:", biases="very_low"):
        pass
    assert made[0].thresholds == {"on": 17, "off": 17}


@pytest.mark.parametrize(("preset", "on_fine", "off_fine"), [
    ("low", 150, 133),  # less sensitive: a larger ON current (100 * 1.5), a smaller OFF one (200 / 1.5)
    ("very_high", 44, 255),  # 100 / 2.25 = 44.4; 200 * 2.25 = 450, clamped to 255
])
def test_davis_sensitivity_presets_scale_the_threshold_currents(fake_model, preset, on_fine, off_fine):
    made = fake_model(FakeDavis, model="CameraModel.DAVIS")
    with open_source("dv:", biases=preset):
        pass
    cf = dv.io.camera.DAVIS.Davis346BiasCF
    assert made[0].cf == {cf.On: (4, on_fine), cf.Off: (4, off_fine), cf.Diff: (4, 39)}


def test_dv_processing_1_7_uses_dvs_own_presets(monkeypatch, davis_file):
    calls = []

    class Capture17:  # FAKE 1.7 CameraCapture of a DVXplorer: setDVSBiasSensitivity
        BiasSensitivity = types.SimpleNamespace(VeryLow=0, Low=1, Default=2, High=3, VeryHigh=4)

        def __init__(self, cameraName):
            self._rec = dv.io.MonoCameraRecording(str(davis_file))

        def __getattr__(self, name):
            return getattr(self._rec, name)

        def setDVSBiasSensitivity(self, value):
            calls.append(value)
            return value != 3  # as 1.7 answers for a camera without presets: False

    fake = types.SimpleNamespace(io=types.SimpleNamespace(discoverDevices=lambda: [f"DVXplorer_{SERIAL}"],
                                                          CameraCapture=Capture17), noise=dv.noise)
    monkeypatch.setattr(live_dv, "dv_module", lambda: fake)
    with open_source("dv:?biases=very_low"):
        pass
    assert calls == [0]
    with pytest.raises(LiveSourceError, match="presets for a DVXplorer only"):
        open_source("dv:", biases="high")


def test_unknown_presets_and_uri_options(fake_model):
    fake_model(FakeDVXplorer)
    with pytest.raises(LiveSourceError, match="unknown bias preset 'sharp'; presets: \\['very_low'"):
        open_source("dv:?biases=sharp")
    with pytest.raises(ValueError, match="unknown option 'exposure'"):
        open_source("dv:?exposure=5")
    with open_source(f"dv:{SERIAL}?noise_filter_us=2000&biases=contrast_on:3,contrast_off:9") as src:
        assert src.info.metadata["noise_filter_us"] == "2000"
        assert src.info.metadata["biases"] == "contrast_on=3,contrast_off=9"


def test_the_listing_names_each_cameras_uri_options(fake_model):
    fake_model(FakeDVXplorer)
    [report] = scan(["dv"])
    [device] = report.devices
    assert device.options == ("roi=x,y,w,h&biases=very_low|low|default|high|very_high|contrast_on:n,"
                              "contrast_off:n&noise_filter_us=N&packet_interval_us=N")
