"""RAW header parsing: encoding, geometry (stated, inferred from the sensor, given), metadata."""

import numpy as np
import pytest

from spikesight.io import (
    EmptyFileError,
    GeometryError,
    HeaderError,
    UnsupportedFormatError,
    detect_format,
    open_source,
)
from spikesight.io.raw import open_raw
from spikesight.io.raw_header import format_header, known_sensor_geometry, parse_header

TIME_HIGH_0 = np.array([0x8000], dtype="<u2").tobytes()  # one EVT 3.0 time high word


def header(*lines: str, end: bool = True) -> bytes:
    text = "".join(f"% {ln}\n" for ln in lines) + ("% end\n" if end else "")
    return text.encode()


def test_modern_evk4_header():
    h = parse_header(header("evt 3.0", "format EVT3;height=720;width=1280", "geometry 1280x720",
                            "plugin_name hal_plugin_imx636_evk4", "serial_number 00050567"))
    assert h.encoding == "evt3"
    assert h.geometry == (1280, 720)
    assert h.geometry_source == "header"
    assert h.get("SERIAL_NUMBER") == "00050567"


def test_data_starts_after_end_line_or_at_first_non_percent_byte():
    with_end = header("evt 3.0", "geometry 4x4") + b"%\x80"  # data may start with a '%' byte
    assert parse_header(with_end).data_offset == len(with_end) - 2
    without_end = header("evt 2.0", "geometry 4x4", end=False) + b"\x00\x00\x00\x80"
    assert parse_header(without_end).data_offset == len(without_end) - 4


def test_crlf_and_spaces_in_format_line():
    h = parse_header(b"% format EVT3; height = 480 ; width = 640\r\n% end\r\n")
    assert h.encoding == "evt3"
    assert h.geometry == (640, 480)
    assert h.data_offset == len(b"% format EVT3; height = 480 ; width = 640\r\n% end\r\n")


@pytest.mark.parametrize(("lines", "encoding"), [
    (("evt 2.0",), "evt2"), (("evt 2.1",), "evt21"), (("evt 3.0",), "evt3"),
    (("format EVT2",), "evt2"), (("format EVT21;endianness=legacy",), "evt21"), (("format evt3",), "evt3"),
])
def test_encoding_from_evt_or_format(lines, encoding):
    assert parse_header(header(*lines, "geometry 8x8")).encoding == encoding


@pytest.mark.parametrize(("lines", "geometry"), [
    (("plugin_name hal_plugin_gen3_fx3",), (640, 480)),  # the gen3_evt2.raw sample
    (("plugin_name hal_plugin_gen31_evk3",), (640, 480)),
    (("plugin_name evc3a_plugin_gen31",), (640, 480)),  # Century Arks SilkyEvCam
    (("plugin_name hal_plugin_gen41_evk2",), (1280, 720)),
    (("plugin_name hal_plugin_gen4_fx3",), (1280, 720)),
    (("plugin_name hal_plugin_imx636_evk4",), (1280, 720)),
    (("plugin_name hal_plugin_gen3_atis_fx3",), (480, 360)),
    (("sensor_name GenX320",), (320, 320)),
    (("sensor_name IMX646", "plugin_name hal_plugin_fluxeem"), (1280, 720)),
    (("plugin_name hal_plugin_prophesee", "system_ID 49"), (1280, 720)),  # EVK4 (IMX636)
    (("system_ID 21",), (640, 480)),  # CCAM3 Gen3
    (("system_ID 64",), (320, 320)),  # EVK3 GenX320
    (("plugin_name hal_plugin_prophesee", "sensor_generation 3.1"), (640, 480)),
    (("sensor_generation 4.2",), (1280, 720)),
])
def test_geometry_of_known_sensors(lines, geometry):
    h = parse_header(header("evt 2.0", *lines))
    assert h.geometry == geometry
    assert h.geometry_source.startswith("known sensor")


def test_unknown_sensor_needs_geometry_argument():
    data = header("evt 2.0", "plugin_name hal_plugin_prophesee", "integrator_name Acme")
    with pytest.raises(GeometryError, match="geometry="):
        parse_header(data)
    h = parse_header(data, geometry=(346, 260))
    assert (h.geometry, h.geometry_source) == ((346, 260), "argument")
    assert known_sensor_geometry({"plugin_name": "hal_plugin_prophesee"}) is None


def test_geometry_argument_overrides_an_inferred_one_but_not_a_stated_one():
    assert parse_header(header("evt 2.0", "system_ID 21"), geometry=(304, 240)).geometry == (304, 240)
    assert parse_header(header("evt 3.0", "geometry 1280x720"), geometry=(1280, 720)).geometry == (1280, 720)
    with pytest.raises(GeometryError, match="disagrees"):
        parse_header(header("evt 3.0", "geometry 1280x720"), geometry=(640, 480))


@pytest.mark.parametrize("lines", [
    ("format EVT3;height=720;width=1280", "geometry 640x480"),
    ("evt 3.0", "geometry 1280 by 720"),
    ("evt 3.0", "geometry 0x720"),
    ("format EVT3;width=1280",),
])
def test_bad_or_conflicting_geometry(lines):
    with pytest.raises(GeometryError):
        parse_header(header(*lines))


def test_empty_missing_and_unsupported_headers():
    with pytest.raises(EmptyFileError):
        parse_header(b"")
    with pytest.raises(HeaderError, match="does not start"):
        parse_header(b"\x00\x80" * 10)
    with pytest.raises(HeaderError, match="no encoding"):
        parse_header(header("geometry 640x480"))
    with pytest.raises(HeaderError, match="disagrees"):
        parse_header(header("evt 2.0", "format EVT3;height=2;width=2"))
    with pytest.raises(UnsupportedFormatError):
        parse_header(header("format EVT4;height=2;width=2"))
    with pytest.raises(UnsupportedFormatError):
        parse_header(header("evt 4.0", "geometry 2x2"))
    with pytest.raises(HeaderError, match="no newline"):
        parse_header(b"% evt 3.0")


@pytest.mark.parametrize(("lines", "legacy"), [
    (("format EVT21;endianness=legacy;height=720;width=1280",), True),
    (("format EVT21;endianness=little;height=720;width=1280",), False),
    (("format EVT21;height=320;width=320",), False),
    (("evt 2.1", "endianness legacy", "geometry 1280x720"), True),
    (("evt 2.1", "integrator_name Prophesee", "system_ID 49"), True),  # EVK4: older than the Saphir
    (("evt 2.1", "integrator_name Prophesee", "system_ID 64"), False),  # EVK3 GenX320
    (("evt 2.1", "integrator_name Acme", "system_ID 49", "geometry 8x8"), False),
])
def test_evt21_endianness(lines, legacy):
    assert parse_header(header(*lines)).legacy_endianness is legacy


def test_reader_keeps_header_fields_and_file_is_detected_as_raw(tmp_path):
    path = tmp_path / "old.raw"
    path.write_bytes(header("Date 2020-09-25 07:48:31", "evt 3.0", "plugin_name hal_plugin_gen31_evk3",
                            "serial_number 00000157", end=False) + TIME_HIGH_0)
    assert detect_format(path).name == "raw"
    with open_source(path) as src:
        assert (src.info.width, src.info.height) == (640, 480)
        assert src.info.format == "evt3"
        assert src.info.metadata["serial_number"] == "00000157"
        assert src.info.metadata["Date"] == "2020-09-25 07:48:31"
        assert src.info.metadata["geometry_source"].startswith("known sensor (plugin_name")
        assert list(src) == []


def test_reader_geometry_argument_and_error(tmp_path):
    path = tmp_path / "anon.raw"
    path.write_bytes(header("evt 3.0") + TIME_HIGH_0)
    with pytest.raises(GeometryError):
        open_raw(path)
    with open_raw(path, geometry=(32, 16)) as src:
        assert (src.info.width, src.info.height) == (32, 16)


def test_written_header_is_what_metavision_expects():
    text = format_header("evt3", 1280, 720).decode()
    assert text == "% evt 3.0\n% format EVT3;height=720;width=1280\n% geometry 1280x720\n% end\n"
    h = parse_header(format_header("evt2", 640, 480))
    assert (h.encoding, h.geometry) == ("evt2", (640, 480))


def test_header_longer_than_the_limit(tmp_path):
    path = tmp_path / "long.raw"
    path.write_bytes(header("evt 3.0", "geometry 8x8", *[f"note{i} {'x' * 60}" for i in range(2000)]))
    with pytest.raises(HeaderError, match="header longer than"):
        open_raw(path)
