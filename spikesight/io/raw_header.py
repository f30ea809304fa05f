"""The text header of a Prophesee RAW file, and the sensor geometry it implies.

A RAW file starts with lines ``% key value`` (``% evt 3.0``, ``% format EVT3;height=720;width=1280``,
``% geometry 1280x720``, ``% plugin_name hal_plugin_imx636_evk4``, ``% system_ID 49``, ...), ended
by ``% end`` or by the first byte of a line that is not ``%``. The encoding comes from ``format``
(or the older ``evt`` key). Files written before Metavision 2.x have no geometry: it is inferred
from the sensor, the system ID or the HAL plugin named in the header, using the table below
(facts from Prophesee's OpenEB: ``device_system_id.h``, ``psee_raw_file_header.cpp`` and the
geometries of each device), else from the caller's ``geometry=(w, h)``.

RAW holds times below 2**40 µs. A stream stamped with a later clock (µs since the Unix epoch, as
DV cameras stamp them) is written relative to its first event, and that offset is kept in the
header as ``% spikesight_t0_us <µs>`` (:data:`T0_KEY`): the event at ``t`` happened at ``t0 + t``
on the camera's clock. Readers show it in ``StreamInfo.metadata``; the times read are the file's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import EmptyFileError, GeometryError, HeaderError, UnsupportedFormatError

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 1 << 16
#: The header key holding the camera-clock time (µs) that the file's times are relative to.
T0_KEY = "spikesight_t0_us"
#: Headers with extra fields are padded to a multiple of this (EVT 2.0's word size): a file cut
#: at a page boundary (a killed writer) then ends on a whole word.
HEADER_ALIGN = 4

VGA = (640, 480)
HVGA = (480, 360)
HD = (1280, 720)
QVGA_SQUARE = (320, 320)
IMX637 = (640, 512)

# system_ID (decimal in headers) -> geometry, as OpenEB maps Prophesee boards to sensors.
SYSTEM_ID_GEOMETRY: dict[int, tuple[int, int]] = {
    0x15: VGA,  # CCAM3 Gen3
    0x17: VGA,  # CCAM4 Gen3 (rev A)
    0x97: VGA,  # CCAM4 Gen3 EVK
    0x19: VGA,  # CCAM4 Gen3 rev B
    0x99: VGA,  # CCAM4 Gen3 rev B EVK
    0x1D: VGA,  # CCAM4 Gen3 rev B EVK bridge
    0x21: VGA,  # VisionCam Gen3
    0xA1: VGA,  # VisionCam Gen3 EVK
    0x1C: VGA,  # CCAM3 Gen3.1
    0x22: VGA,  # VisionCam Gen3.1
    0xA2: VGA,  # VisionCam Gen3.1 EVK
    0x23: VGA,  # CCAM5 Gen3.1
    0x29: VGA,  # EVK2 Gen3.1
    0x28: VGA,  # EVK3 Gen3.1 (EVT 3.0)
    0x1A: HD,  # CCAM3 Gen4
    0x9A: HD,  # CCAM4 Gen4 EVK
    0x1E: HD,  # CCAM5 Gen4
    0x2E: HD,  # CCAM5 Gen4 fixed frame
    0x20: HD,  # CCAM5 Gen4 EVK bridge
    0x1F: HD,  # EVK2 Gen4
    0x27: HD,  # EVK2 Gen4.1
    0x30: HD,  # EVK3 Gen4.1
    0x31: HD,  # EVK3/EVK4 IMX636
    0x32: HD,  # EVK2 IMX636
    0x3A: HD,  # RDK2 IMX636
    0x42: HD,  # EVK2 IMX636 ESP
    0x34: IMX637,  # EVK3 IMX637
    0x35: HD,  # EVK3 IMX646
    0x37: QVGA_SQUARE,  # EVK2 Saphir (GenX320)
    0x3B: QVGA_SQUARE,  # EVK3 GenX320 MP
    0x40: QVGA_SQUARE,  # EVK3 GenX320
}

# sensor_name / sensor_generation / plugin_name tokens -> geometry, most specific first.
# A token matches a whole word of the value, where words are split at '_', '-', ' ' and '.'.
SENSOR_TOKENS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("atis", HVGA),  # Gen3 ATIS (HVGA)
    ("genx320", QVGA_SQUARE),
    ("saphir", QVGA_SQUARE),  # GenX320's development name
    ("imx636", HD),
    ("imx646", HD),
    ("imx637", IMX637),
    ("gen41", HD),
    ("gen4", HD),
    ("gen31", VGA),
    ("gen3", VGA),
)

# sensor_generation "major.minor" -> geometry.
GENERATION_GEOMETRY: dict[str, tuple[int, int]] = {
    "3.0": VGA,
    "3.1": VGA,
    "4.0": HD,
    "4.1": HD,
    "4.2": HD,
    "320.0": QVGA_SQUARE,
    "320.1": QVGA_SQUARE,
}

ENCODINGS = {"EVT2": "evt2", "EVT21": "evt21", "EVT3": "evt3"}
LEGACY_EVT_VALUES = {"2.0": "evt2", "2.1": "evt21", "3.0": "evt3"}
# Prophesee boards older than the EVK2 Saphir (system_ID 0x37) stream EVT 2.1 with swapped halves.
EVT21_LEGACY_BEFORE_SYSTEM_ID = 0x37


@dataclass
class RawHeader:
    """What the header says: fields, encoding, geometry, and where the event words start."""

    fields: dict[str, str]
    encoding: str
    data_offset: int
    format_options: dict[str, str] = field(default_factory=dict)
    geometry: tuple[int, int] | None = None
    geometry_source: str | None = None
    legacy_endianness: bool = False

    def get(self, key: str) -> str | None:
        """A field by case-insensitive key."""
        want = key.lower()
        for k, v in self.fields.items():
            if k.lower() == want:
                return v
        return None


def split_header(head: bytes, path: str | None = None) -> tuple[list[tuple[str, str]], int]:
    """The ``(key, value)`` header lines of ``head`` and the byte offset of the first data byte."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(head) and head[pos : pos + 1] == b"%":
        nl = head.find(b"\n", pos)
        if nl < 0:
            break
        line = head[pos + 1 : nl].rstrip(b"\r").decode("utf-8", errors="replace").strip()
        pos = nl + 1
        if line == "end":
            return pairs, pos
        key, _, value = line.partition(" ")
        if key:
            pairs.append((key, value.strip()))
    if len(head) >= MAX_HEADER_BYTES and (pos >= len(head) or head[pos : pos + 1] == b"%"):
        raise HeaderError(path, pos, f"header longer than {MAX_HEADER_BYTES} bytes")
    if head[pos : pos + 1] == b"%":
        raise HeaderError(path, pos, "the header ends in the middle of a line (no newline)")
    return pairs, pos


def _format_options(value: str) -> tuple[str, dict[str, str]]:
    name, *opts = [part.strip() for part in value.split(";")]
    options = {}
    for opt in opts:
        k, sep, v = opt.partition("=")
        if sep:
            options[k.strip().lower()] = v.strip()
    return name.upper(), options


def _parse_wh(text: str, path: str | None, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
    if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
        raise GeometryError(path, 0, f"malformed {what} {text!r} (expected WIDTHxHEIGHT)")
    return int(m.group(1)), int(m.group(2))


def _words(value: str) -> list[str]:
    return [w for w in re.split(r"[_\-\s.]+", value.lower()) if w]


def known_sensor_geometry(fields: dict[str, str]) -> tuple[tuple[int, int], str] | None:
    """Geometry inferred from the sensor name, system ID, sensor generation or plugin name."""
    lower = {k.lower(): v for k, v in fields.items()}
    for key in ("sensor_name", "plugin_name"):
        words = _words(lower.get(key, ""))
        for token, geom in SENSOR_TOKENS:
            if token in words:
                return geom, f"{key} {lower[key]}"
    sid = lower.get("system_id")
    if sid is not None:
        try:
            geom = SYSTEM_ID_GEOMETRY.get(int(sid, 0) if sid.lower().startswith("0x") else int(sid))
        except ValueError:
            geom = None
        if geom is not None:
            return geom, f"system_ID {sid}"
    gen = lower.get("sensor_generation") or lower.get("generation")
    if gen is not None and gen.strip() in GENERATION_GEOMETRY:
        return GENERATION_GEOMETRY[gen.strip()], f"sensor_generation {gen}"
    return None


def parse_header(head: bytes, path: str | os.PathLike | None = None,
                 geometry: tuple[int, int] | None = None) -> RawHeader:
    """Parse the header at the start of ``head`` (the file's first bytes) and settle its geometry.

    Geometry comes from ``% geometry`` or the ``format`` line (which must agree with each other
    and with ``geometry`` when given), else from ``geometry``, else from the known-sensor table;
    none of these raises :class:`GeometryError`.
    """
    path = None if path is None else os.fspath(path)
    if not head:
        raise EmptyFileError(path, 0, "the file is empty")
    if head[:1] != b"%":
        raise HeaderError(path, 0, "no RAW header: the file does not start with '%' lines")
    pairs, data_offset = split_header(head, path)
    fields: dict[str, str] = {}
    for k, v in pairs:
        fields.setdefault(k, v)
    lower = {k.lower(): v for k, v in fields.items()}

    encoding = None
    options: dict[str, str] = {}
    if "format" in lower:
        name, options = _format_options(lower["format"])
        if name not in ENCODINGS:
            raise UnsupportedFormatError(path, 0, f"RAW encoding {name!r} is not supported "
                                                  "(EVT2, EVT21 and EVT3 are)")
        encoding = ENCODINGS[name]
    if "evt" in lower:
        legacy = LEGACY_EVT_VALUES.get(lower["evt"].strip())
        if legacy is None:
            raise UnsupportedFormatError(path, 0, f"RAW encoding 'evt {lower['evt']}' is not supported")
        if encoding is not None and legacy != encoding:
            raise HeaderError(path, 0, f"header disagrees with itself: 'evt {lower['evt']}' vs "
                                       f"'format {lower['format']}'")
        encoding = legacy
    if encoding is None:
        raise HeaderError(path, 0, "the header names no encoding (no 'evt' or 'format' line)")

    t0 = lower.get(T0_KEY)
    if t0 is not None and not re.fullmatch(r"-?\d+", t0):
        raise HeaderError(path, 0, f"'{T0_KEY} {t0}' is not a time in µs (an integer)")
    header = RawHeader(fields=fields, encoding=encoding, data_offset=data_offset, format_options=options)
    _settle_geometry(header, lower, path, geometry)
    if encoding == "evt21":
        header.legacy_endianness = _evt21_legacy(options, lower)
    return header


def _settle_geometry(header: RawHeader, lower: dict[str, str], path: str | None,
                     geometry: tuple[int, int] | None) -> None:
    stated: list[tuple[tuple[int, int], str]] = []
    if "geometry" in lower:
        stated.append((_parse_wh(lower["geometry"], path, "geometry"), f"geometry {lower['geometry']}"))
    opts = header.format_options
    if "width" in opts or "height" in opts:
        wh = _parse_wh(f"{opts.get('width', '')}x{opts.get('height', '')}", path, "format width/height")
        stated.append((wh, f"format {lower['format']}"))
    if geometry is not None:
        geometry = (int(geometry[0]), int(geometry[1]))
        if geometry[0] <= 0 or geometry[1] <= 0:
            raise GeometryError(path, None, f"geometry must be positive, got {geometry}")
    for wh, source in stated:
        if wh != stated[0][0]:
            raise GeometryError(path, 0, f"header disagrees with itself on geometry: {stated[0][1]!r} "
                                         f"vs {source!r}")
        if geometry is not None and wh != geometry:
            raise GeometryError(path, 0, f"geometry={geometry} disagrees with the header's {source!r}")
    if stated:
        header.geometry, header.geometry_source = stated[0][0], "header"
        return
    known = known_sensor_geometry(header.fields)
    if geometry is not None:
        if known is not None and known[0] != geometry:
            log.warning("%s: using geometry=%s given by the caller, not %s inferred from %s",
                        path, geometry, known[0], known[1])
        header.geometry, header.geometry_source = geometry, "argument"
        return
    if known is not None:
        header.geometry, header.geometry_source = known[0], f"known sensor ({known[1]})"
        return
    raise GeometryError(path, 0, "the header gives no geometry and names no known sensor; "
                                 "pass geometry=(width, height)")


def _evt21_legacy(options: dict[str, str], lower: dict[str, str]) -> bool:
    endianness = options.get("endianness") or lower.get("endianness")
    if endianness:
        return endianness.strip().lower() == "legacy"
    sid = lower.get("system_id", "")
    keys = ("integrator_name", "camera_integrator_name", "plugin_integrator_name")
    integrators = {lower[k] for k in keys if k in lower}
    prophesee = integrators <= {"Prophesee"}  # no integrator at all means Prophesee, as in OpenEB
    return prophesee and sid.isdigit() and 0 < int(sid) < EVT21_LEGACY_BEFORE_SYSTEM_ID


def format_header(encoding: str, width: int, height: int, extra: Mapping[str, object] | None = None) -> bytes:
    """A header Metavision accepts for a file written in ``encoding`` ('evt2' or 'evt3').

    ``extra`` fields are added as ``% key value`` lines (keys without spaces, values on one line);
    the last one's value is then padded with leading spaces so that the header's length is a
    multiple of :data:`HEADER_ALIGN` (readers strip them).
    """
    evt = {"evt2": ("2.0", "EVT2"), "evt3": ("3.0", "EVT3")}[encoding]
    lines = [
        f"% evt {evt[0]}",
        f"% format {evt[1]};height={height};width={width}",
        f"% geometry {width}x{height}",
    ]
    for k, v in (extra or {}).items():
        key, value = str(k), str(v)
        if not key or any(c.isspace() for c in key) or "\n" in value or "\r" in value:
            raise ValueError(f"a RAW header field needs a key without spaces and a one-line value: {k!r}")
        lines.append(f"% {key} {value}")
    if extra:
        short = -len(("\n".join(lines) + "\n% end\n").encode("utf-8")) % HEADER_ALIGN
        key, _, value = lines[-1][2:].partition(" ")
        lines[-1] = f"% {key} {' ' * short}{value}"
    lines.append("% end")
    return ("\n".join(lines) + "\n").encode("utf-8")
