"""The depth network's architecture and depth encoding as one frozen dataclass, with named sizes.

``DEPTH_CONFIGS["paper"]`` follows the E2Depth-sized U-Net that MSS-DepthNet compares with
(head 32 channels, encoders 64/128/256, 5x5 kernels, two residual blocks; E2Depth's MVSEC
configuration); ``"tiny"`` (8/16/32/64 channels, 3x3 kernels, a stride-2 head: the network runs at
half resolution and its prediction is upsampled bilinearly) is sized to train on one CPU core and to
run faster than real time (over 20 maps per second at 346x260) on two. Both use the multi-scale
readout, with which the SNN's training loss no longer stalls (measured in the README); the
dataclass's default, ``"last"``, is the readout of weights made before it.

Depth is encoded as normalised log depth (the MVSEC/E2Depth convention, see :mod:`.convert`) with
``max_depth`` and ``alpha``; ``min_depth`` defaults to the smallest depth that encoding
represents, ``max_depth * exp(-alpha)`` (1.977 m for 80 m and 3.7).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..settings import from_dict_strict

STAGES = 3
"""Stride-2 encoder stages: inputs are padded to a multiple of ``2 ** STAGES``."""
READOUTS = ("last", "multiscale")


@dataclass(frozen=True)
class DepthConfig:
    """Everything that fixes a depth network's shape and its output encoding.

    ``in_channels``: channels of one time step of the input (2: ON/OFF); ``steps``: time steps T
    of one window (the ANN twin folds them into its input channels); ``base_channels``: channels
    of the head conv, times ``multipliers`` for the head and the three encoder stages;
    ``kernel_size``: of every conv but the prediction layers; ``readout``: ``"last"`` (a 1x1
    conv of the last decoder neuron's spikes) or ``"multiscale"`` (a 3x3 conv of those spikes plus
    1x1 convs of the spikes of the two coarser decoder stages, upsampled and summed, as
    StereoSpike sums its multi-scale predictions); ``head_stride``: 1 (full
    resolution) or 2 (the network runs at half resolution, the prediction is upsampled
    bilinearly); ``residual_blocks``: at the bottleneck; ``ann``: the ANN twin (ReLU,
    no time steps); ``attention``: multi-dimensional attention in the encoder, ``attention_kind``
    its dimensions (MA-SNN's letters; the ANN twin keeps C and S); ``reduction``: of the
    attention MLPs; ``spatial_kernel``: of spatial attention. Neurons: LIF with
    ``U[t] = (1 - 1/tau) H[t-1] + X[t]`` (decay 0.25 for tau = 4/3), threshold ``v_threshold``,
    hard reset to 0, rectangular surrogate of width ``surrogate_width``.
    """

    name: str = "tiny"
    in_channels: int = 2
    steps: int = 5
    base_channels: int = 8
    multipliers: tuple[int, ...] = (1, 2, 4, 8)
    kernel_size: int = 3
    readout: str = "last"
    head_stride: int = 2
    residual_blocks: int = 2
    ann: bool = False
    attention: bool = True
    attention_kind: str = "TCSA"
    reduction: int = 4
    spatial_kernel: int = 3
    tau: float = 4.0 / 3.0
    v_threshold: float = 0.5
    surrogate_width: float = 1.0
    detach_reset: bool = False
    max_depth: float = 80.0
    alpha: float = 3.7
    min_depth: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "in_channels",
            "steps",
            "base_channels",
            "kernel_size",
            "head_stride",
            "reduction",
            "spatial_kernel",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        object.__setattr__(self, "multipliers", tuple(int(m) for m in self.multipliers))
        if len(self.multipliers) != STAGES + 1 or min(self.multipliers) < 1:
            raise ValueError(f"multipliers must be {STAGES + 1} positive integers, got {self.multipliers}")
        if self.residual_blocks < 0:
            raise ValueError(f"residual_blocks must be >= 0, got {self.residual_blocks}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.kernel_size % 2 == 0 or self.spatial_kernel % 2 == 0:
            raise ValueError("kernel_size and spatial_kernel must be odd")
        letters = self.attention_kind.upper().removesuffix("A")
        if not letters or set(letters) - set("TCS") or len(set(letters)) != len(letters):
            raise ValueError(
                f"attention_kind must combine T, C, S (e.g. 'TCSA'), got {self.attention_kind!r}"
            )
        if self.tau < 1.0:
            raise ValueError(f"tau must be >= 1, got {self.tau}")
        if self.v_threshold <= 0 or self.surrogate_width <= 0:
            raise ValueError("v_threshold and surrogate_width must be > 0")
        if self.max_depth <= 0 or self.alpha <= 0:
            raise ValueError(f"max_depth and alpha must be > 0, got {self.max_depth}, {self.alpha}")
        if self.min_depth is None:
            object.__setattr__(self, "min_depth", self.max_depth * math.exp(-self.alpha))
        elif not 0 < self.min_depth < self.max_depth:
            raise ValueError(f"min_depth must be in (0, max_depth), got {self.min_depth}")

    @property
    def T(self) -> int:
        return self.steps

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of the head and of the three encoder stages."""
        return tuple(self.base_channels * m for m in self.multipliers)

    @property
    def multiple(self) -> int:
        """Inputs are padded (inside the model) to a multiple of this."""
        return 2**STAGES * self.head_stride

    def to_dict(self) -> dict:
        d = asdict(self)
        d["multipliers"] = list(self.multipliers)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DepthConfig:
        return from_dict_strict(cls, d)


DEPTH_CONFIGS: dict[str, DepthConfig] = {
    "tiny": DepthConfig(readout="multiscale"),
    "paper": DepthConfig(name="paper", base_channels=32, kernel_size=5, head_stride=1, readout="multiscale"),
}
"""Named configurations (see the module docstring); ``replace(c, ann=True)`` gives the ANN twin."""
