"""Dataset readers that turn recorded datasets into model inputs (torch Datasets): DVS128 Gesture,
Gen1 detection and MVSEC depth. Names load on first use."""

from ...lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("GESTURE_NAMES", "DVSGesture", "GestureLabelsError", "Segment", "read_labels",
                     "read_trials"), "dvs_gesture"),
    "Gen1Detection": "gen1",
    **dict.fromkeys(("MvsecDepth", "MvsecLayoutError", "DepthRecording", "mvsec_depth", "split_recordings"),
                    "mvsec"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
