"""Ground-truth boxes beside a recording (Prophesee's ``*_bbox.npy``), found and looked up by time.

Gen1 and 1Mpx recordings come as ``NAME_td.dat`` with ``NAME_bbox.npy`` beside them: one
structured array of boxes with their time ``t`` (µs), ``x, y, w, h`` (pixels) and ``class_id``.
A frame shows the boxes of the latest annotation time at or before its end, for a short while.

A ``*_bbox.npy`` holds class ids, not names. The two datasets' files differ in their fields
(Gen1 ``ts``/``confidence``, 1 Mpx ``t``/``class_confidence``), so :func:`class_names_for` names
the classes after the dataset whose layout the file has, when every id in it is one of that
dataset's: Gen1 (and spikesight's street
simulator, which writes the Gen1 layout) ``0 car, 1 pedestrian``; 1 Mpx ``0 pedestrian, 1 two
wheeler, 2 car, 3 truck, 4 bus, 5 traffic sign, 6 traffic light``. Otherwise (another layout,
such as Metavision's EventBbox, or ids beyond the dataset's) the boxes are labelled by number.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..io.bbox import GEN1_BBOX_DTYPE, MPX_BBOX_DTYPE, read_boxes

log = logging.getLogger(__name__)

#: How long after its annotation time a box stays on screen (annotations are 1 to 60 Hz).
HOLD_US = 250_000
#: Class names of Prophesee's Gen1 dataset, which the street simulator uses too.
GEN1_CLASSES = ("car", "pedestrian")
#: Class names of Prophesee's 1 Mpx (Gen4) automotive dataset.
MPX_CLASSES = ("pedestrian", "two wheeler", "car", "truck", "bus", "traffic sign", "traffic light")
_SUFFIXES = ("_td.dat", ".dat", ".raw", ".hdf5", ".h5", ".npy", ".npz", ".aedat4", ".aedat", ".txt", ".csv")


def boxes_path_for(source: str | os.PathLike | None) -> str | None:
    """The ``*_bbox.npy`` that belongs to a recording, when it exists."""
    if source is None:
        return None
    path = os.fspath(source)
    if not os.path.isfile(path):
        return None
    low = path.lower()
    stem = next((path[: -len(s)] for s in _SUFFIXES if low.endswith(s)), os.path.splitext(path)[0])
    cand = stem + "_bbox.npy"
    return cand if os.path.isfile(cand) and cand != path else None


def load_boxes(path: str) -> np.ndarray:
    """Boxes (:data:`spikesight.io.bbox.BBOX_DTYPE`: ``t, x, y, w, h, class_id, ...``) sorted by time.

    Raises :class:`~spikesight.io.errors.EventFormatError` (a ``ValueError``) for a bad file.
    """
    boxes = read_boxes(path)
    return np.array(boxes[np.argsort(boxes["t"], kind="stable")])


def class_names_for(path: str | os.PathLike, boxes: np.ndarray) -> tuple[str, ...]:
    """The class names of the boxes read from ``path`` (see the module's docstring); ``()`` when
    the file's layout or ids match no dataset, so the boxes are labelled ``class N``."""
    try:
        fields = np.load(path, mmap_mode="r", allow_pickle=False).dtype.names
    except (OSError, ValueError) as exc:
        log.debug("%s: no class names (%s)", path, exc)
        return ()
    names = {GEN1_BBOX_DTYPE.names: GEN1_CLASSES, MPX_BBOX_DTYPE.names: MPX_CLASSES}.get(fields, ())
    top = int(boxes["class_id"].max()) if len(boxes) else -1
    return names if top < len(names) else ()


def boxes_at(boxes: np.ndarray, t: int, hold_us: int = HOLD_US) -> np.ndarray:
    """The boxes of the latest annotation time ``<= t``, if it is less than ``hold_us`` old."""
    k = int(np.searchsorted(boxes["t"], t, side="right"))
    if k == 0:
        return boxes[:0]
    t_ann = boxes["t"][k - 1]
    if t - int(t_ann) >= hold_us:
        return boxes[:0]
    lo = int(np.searchsorted(boxes["t"], t_ann, side="left"))
    return boxes[lo:k]
