"""The formats spikesight reads and writes, and how each is recognised from its first bytes."""

from __future__ import annotations

from .formats import FormatSpec, register_format

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _header_lines(head: bytes) -> list[bytes]:
    lines = []
    for line in head.split(b"\n"):
        if not line.startswith(b"%"):
            break
        lines.append(line.rstrip(b"\r"))
    return lines


def _is_raw(head: bytes) -> bool:
    lines = _header_lines(head)
    keys = {ln[1:].strip().split(b" ", 1)[0].lower() for ln in lines}
    raw_keys = {b"evt", b"format", b"plugin_name", b"integrator_name", b"camera_integrator_name"}
    return bool(keys & raw_keys) and not keys & {b"version", b"height", b"width"}


def _is_dat(head: bytes) -> bool:
    lines = _header_lines(head)
    keys = {ln[1:].strip().split(b" ", 1)[0].lower() for ln in lines}
    return bool(keys & {b"version", b"height", b"width", b"data"}) and b"evt" not in keys


def _starts(prefix: bytes):
    return lambda head: head.startswith(prefix)


for _spec in (
    FormatSpec("raw", "Prophesee RAW (EVT 2.0, 2.1, 3.0; encoding from the header)", (".raw",),
               "spikesight.io.raw:open_raw", "spikesight.io.evt3:Evt3Writer", _is_raw),
    FormatSpec("evt3", "Prophesee RAW EVT 3.0", (".raw",), "spikesight.io.raw:open_raw",
               "spikesight.io.evt3:Evt3Writer"),
    FormatSpec("evt2", "Prophesee RAW EVT 2.0", (".raw",), "spikesight.io.raw:open_raw",
               "spikesight.io.evt2:Evt2Writer"),
    FormatSpec("dat", "Prophesee DAT (Gen1 / 1Mpx datasets)", ("_td.dat", ".dat"),
               "spikesight.io.dat:DatReader", "spikesight.io.dat:DatWriter", _is_dat),
    FormatSpec("hdf5", "HDF5: Metavision (CD/events; ECF, gzip, hdf5plugin filters), MVSEC, DSEC",
               (".hdf5", ".h5"), "spikesight.io.hdf5:open_hdf5", "spikesight.io.hdf5:MetavisionH5Writer",
               _starts(HDF5_MAGIC)),
    FormatSpec("aedat4", "iniVation AEDAT 4.0 (through dv-processing)", (".aedat4",),
               "spikesight.io.aedat4:Aedat4Reader", "spikesight.io.aedat4:Aedat4Writer",
               _starts(b"#!AER-DAT4.0")),
    FormatSpec("aedat", "iniVation AEDAT 3.1 (DVS128 Gesture; read/write) and 2.0 (DVS128; read)",
               (".aedat",),
               "spikesight.io.aedat:AedatReader", "spikesight.io.aedat31_writer:Aedat31Writer",
               lambda head: head.startswith((b"#!AER-DAT3.1", b"#!AER-DAT2.0", b"#!AER-DAT3"))),
    FormatSpec("npy", "NumPy structured array of events (.npy) or x/y/p/t columns (.npz)", (".npy", ".npz"),
               "spikesight.io.numpy_io:NumpyReader", "spikesight.io.numpy_io:NumpyWriter",
               lambda head: head.startswith(b"\x93NUMPY")),
    FormatSpec("text", "text/CSV, one event per line: t x y p (RPG/ESIM events.txt; t in s or µs)",
               (".txt", ".csv"), "spikesight.io.text:TextReader", "spikesight.io.text:TextWriter"),
):
    register_format(_spec)
