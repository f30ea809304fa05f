"""Bounding-box label files of Prophesee's Gen1 and 1 Mpx automotive datasets (``*_bbox.npy``).

Each file is a ``.npy`` structured array, one row per box and time. The datasets use two dtypes
(as the files themselves and Prophesee's automotive dataset toolbox describe them):

* Gen1 (:data:`GEN1_BBOX_DTYPE`): ``ts`` u8 (µs), ``x, y, w, h`` f4 (top-left corner and size,
  pixels), ``class_id`` u1, ``confidence`` f4, ``track_id`` u4, packed (33 bytes).
* 1 Mpx (:data:`MPX_BBOX_DTYPE`): the same with ``ts`` renamed ``t`` and ``confidence``
  renamed ``class_confidence``.

:func:`read_boxes` returns both as :data:`BBOX_DTYPE`, the layout of Metavision's EventBbox
(the toolbox's ``box_loading.BBOX_DTYPE``): ``t`` i8 µs like events, ``class_id`` and
``track_id`` u4, ``class_confidence`` f4, 40 bytes with padding.

:func:`filter_boxes` is the evaluation filter of the Gen1/1 Mpx papers as RVT applies it
(``scripts/genx/preprocess_dataset.py``, MIT): boxes are first cropped to the field of view
(``crop_to_fov_filter``), then kept when ``w² + h² >= min_box_diag²`` and both sides are
``>= min_box_side`` (``prophesee_bbox_filter``; Gen1: 30 and 10, 1 Mpx: 60 and 20, the corrected
values of the 1 Mpx paper's supplementary material). Prophesee's toolbox evaluator
(``src/io/box_filtering.py``, Apache-2.0) also drops boxes at ``t <= skip_ts`` (500 000 µs).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import EmptyFileError, HeaderError, TruncatedError

GEN1_BBOX_DTYPE = np.dtype([("ts", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                            ("class_id", "u1"), ("confidence", "<f4"), ("track_id", "<u4")])
MPX_BBOX_DTYPE = np.dtype([("t", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                           ("class_id", "u1"), ("class_confidence", "<f4"), ("track_id", "<u4")])
BBOX_DTYPE = np.dtype({
    "names": ["t", "x", "y", "w", "h", "class_id", "track_id", "class_confidence"],
    "formats": ["<i8", "<f4", "<f4", "<f4", "<f4", "<u4", "<u4", "<f4"],
    "offsets": [0, 8, 12, 16, 20, 24, 28, 32],
    "itemsize": 40,
})
FILE_DTYPES = {"gen1": GEN1_BBOX_DTYPE, "1mpx": MPX_BBOX_DTYPE, "metavision": BBOX_DTYPE}

GEN1_FILTER = {"min_box_diag": 30, "min_box_side": 10}
MPX_FILTER = {"min_box_diag": 60, "min_box_side": 20}
EVAL_SKIP_TS = 500_000

_ALIASES = {"t": ("t", "ts"), "class_confidence": ("class_confidence", "confidence")}
_REQUIRED = ("t", "x", "y", "w", "h", "class_id")


def _field(arr: np.ndarray, name: str) -> str | None:
    for alias in _ALIASES.get(name, (name,)):
        if alias in (arr.dtype.names or ()):
            return alias
    return None


def normalize_boxes(boxes: np.ndarray) -> np.ndarray:
    """Any box array (Gen1, 1 Mpx, Metavision) as :data:`BBOX_DTYPE`.

    ``track_id`` defaults to 0 and ``class_confidence`` to 1 where the input has none.
    """
    missing = [name for name in _REQUIRED if _field(boxes, name) is None]
    if missing:
        raise ValueError(f"box array lacks fields {missing}; has {boxes.dtype.names}")
    out = np.zeros(len(boxes), dtype=BBOX_DTYPE)
    out["class_confidence"] = 1.0
    for name in BBOX_DTYPE.names:
        src = _field(boxes, name)
        if src is not None:
            out[name] = boxes[src]
    return out


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """A ``*_bbox.npy`` file (Gen1, 1 Mpx or Metavision dtype) as :data:`BBOX_DTYPE`."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise EmptyFileError(path, 0, "the file is empty")
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
        except (ValueError, OSError, SyntaxError) as exc:
            raise HeaderError(path, 0, f"not a NumPy .npy file: {exc}") from exc
        start = f.tell()
    if dtype.names is None or len(shape) != 1:
        raise HeaderError(path, 0, f"expected a 1-D structured array of boxes, got {dtype} of shape {shape}")
    missing = [name for name in _REQUIRED if not any(a in dtype.names for a in _ALIASES.get(name, (name,)))]
    if missing:
        raise HeaderError(path, 0, f"box array lacks fields {missing}; has {dtype.names}")
    n = shape[0]
    if size - start < n * dtype.itemsize:
        whole = (size - start) // dtype.itemsize
        raise TruncatedError(path, start + whole * dtype.itemsize,
                             f"the header declares {n} boxes but the file holds {whole} whole ones")
    boxes = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=(n,)) if n else np.empty(0, dtype)
    return normalize_boxes(boxes)


def write_boxes(path: str | os.PathLike, boxes: np.ndarray, dtype: str = "1mpx") -> None:
    """Write boxes in a dataset's exact dtype: ``"gen1"``, ``"1mpx"`` or ``"metavision"``."""
    if dtype not in FILE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(FILE_DTYPES)}, got {dtype!r}")
    target = FILE_DTYPES[dtype]
    norm = normalize_boxes(boxes)
    if target["class_id"] == np.uint8 and bool(np.any(norm["class_id"] > 255)):
        raise ValueError(f"{dtype} box files store class_id in one byte; got {int(norm['class_id'].max())}")
    if target[0].kind == "u" and bool(np.any(norm["t"] < 0)):
        raise ValueError(f"{dtype} box files store unsigned timestamps; got a negative one")
    out = np.zeros(len(norm), dtype=target)
    for name in target.names:
        out[name] = norm[{"ts": "t", "confidence": "class_confidence"}.get(name, name)]
    np.save(os.fspath(path), out)


def _times(boxes: np.ndarray) -> np.ndarray:
    name = _field(boxes, "t")
    if name is None:
        raise ValueError(f"box array has no t/ts field; has {boxes.dtype.names}")
    return boxes[name].astype(np.int64)


def boxes_in_window(boxes: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """The boxes with ``t0 <= t < t1`` (µs), in their order; any box dtype."""
    t = _times(boxes)
    return boxes[(t >= t0) & (t < t1)]


def filter_boxes(boxes: np.ndarray, width: int, height: int, min_box_diag: float = 30,
                 min_box_side: float = 10, *, skip_ts: int | None = None) -> np.ndarray:
    """Crop boxes to the ``width`` x ``height`` frame, then drop the tiny ones (see the module doc).

    Cropping clips both corners to ``[0, width - 1]`` x ``[0, height - 1]`` as RVT does, and
    drops boxes left with no width or height. ``skip_ts`` also drops boxes at ``t <= skip_ts``
    (the evaluation skips the first 0.5 s: :data:`EVAL_SKIP_TS`). Returns a new array.
    """
    out = np.array(boxes, copy=True)
    x0 = np.clip(out["x"], 0, width - 1)
    y0 = np.clip(out["y"], 0, height - 1)
    x1 = np.clip(out["x"] + out["w"], 0, width - 1)
    y1 = np.clip(out["y"] + out["h"], 0, height - 1)
    out["x"], out["y"], out["w"], out["h"] = x0, y0, x1 - x0, y1 - y0
    w, h = out["w"], out["h"]
    keep = (w > 0) & (h > 0) & (w**2 + h**2 >= min_box_diag**2) & (w >= min_box_side) & (h >= min_box_side)
    if skip_ts is not None:
        keep &= _times(out) > skip_ts
    return out[keep]
