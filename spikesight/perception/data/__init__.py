"""Dataset readers that turn recorded datasets into model inputs (torch Datasets)."""

from .dvs_gesture import GESTURE_NAMES, DVSGesture, GestureLabelsError, Segment, read_labels, read_trials

__all__ = ["GESTURE_NAMES", "DVSGesture", "GestureLabelsError", "Segment", "read_labels", "read_trials"]
