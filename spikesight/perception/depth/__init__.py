"""Monocular event depth: the spiking U-Net (MSS-DepthNet reconstruction), its loss, metrics, training
task and streaming pipeline. Names load on first use (the CLI imports this package without torch)."""

from ...lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("DEPTH_CONFIGS", "STAGES", "DepthConfig"), "config"),
    **dict.fromkeys(("depth_to_log", "log_to_depth"), "convert"),
    **dict.fromkeys(("DepthLoss", "gradient_matching_loss", "scale_invariant_loss", "valid_mask"), "loss"),
    **dict.fromkeys(("METRIC_NAMES", "DepthMetrics", "frame_metrics"), "metrics"),
    **dict.fromkeys(("DepthNet", "ResidualBlock", "build_depth_model", "count_parameters"), "model"),
    "DepthPipeline": "pipeline",
    "DepthTask": "task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
