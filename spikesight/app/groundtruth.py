"""Ground-truth boxes beside a recording (Prophesee's ``*_bbox.npy``), found and looked up by time.

Gen1 and 1Mpx recordings come as ``NAME_td.dat`` with ``NAME_bbox.npy`` beside them: one
structured array of boxes with their time ``t`` (µs), ``x, y, w, h`` (pixels) and ``class_id``.
A frame shows the boxes of the latest annotation time at or before its end, for a short while.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..io.bbox import read_boxes

log = logging.getLogger(__name__)

#: How long after its annotation time a box stays on screen (annotations are 1 to 60 Hz).
HOLD_US = 250_000
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
