"""SpikeYOLO object detection: configuration, meta SNN blocks, the model and its output decoding.

This file is a plain list of re-exports (hence the file-wide F401 waiver).
"""

# ruff: noqa: F401

from .config import SCALES, STRIDES, DetectorConfig, Scale
from .model import DetectHead, SpikeYOLO, count_parameters
from .postprocess import batched_nms, decode, dfl_distances, make_anchors, nms, postprocess
