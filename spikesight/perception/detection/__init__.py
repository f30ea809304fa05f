"""SpikeYOLO object detection: configuration, meta SNN blocks, the model, its loss, decoding, metrics,
training task and streaming pipeline (``postprocess`` is the module of that name).

Names load on first use: the CLI imports this package without importing torch."""

from ...lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("SCALES", "STRIDES", "DetectorConfig", "Scale"), "config"),
    **dict.fromkeys(("DetectHead", "SpikeYOLO", "count_parameters"), "model"),
    **dict.fromkeys(("batched_nms", "decode", "dfl_distances", "make_anchors", "nms"), "postprocess"),
    "DetectionInput": "inputs",
    "DetectionPipeline": "pipeline",
    "DetectionTask": "task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
