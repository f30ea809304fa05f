"""Monocular event depth: the spiking U-Net (MSS-DepthNet reconstruction), its loss and its metrics.

This file is a plain list of re-exports (hence the file-wide F401 waiver).
"""

# ruff: noqa: F401

from .config import DEPTH_CONFIGS, STAGES, DepthConfig
from .convert import depth_to_log, log_to_depth
from .loss import DepthLoss, gradient_matching_loss, scale_invariant_loss, valid_mask
from .metrics import METRIC_NAMES, DepthMetrics, frame_metrics
from .model import DepthNet, ResidualBlock, build_depth_model, count_parameters
