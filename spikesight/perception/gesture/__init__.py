"""Gesture recognition: the TA-SNN / MA-SNN network for DVS128 Gesture, its training task and streaming
pipeline. Names load on first use: the CLI imports this package without importing torch."""

from ...lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("CONFIGS", "GestureNet", "GestureNetConfig", "SpikingLayer"), "model"),
    **dict.fromkeys(("GesturePipeline", "GestureDecision"), "pipeline"),
    "GestureTask": "task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
