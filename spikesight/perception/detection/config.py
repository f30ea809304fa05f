"""SpikeYOLO's architecture as frozen dataclasses: width/depth scales, classes, neuron settings.

Scales follow the authors' ``snn_yolov8.yaml`` (BICLab/SpikeYOLO): ``[depth, width, max_channels]``
multiply the base repeats and channels of the layer table in :mod:`.model` the way Ultralytics'
model parser does (repeats ``max(round(n * depth), 1)`` where ``n > 1``; channels
``int(c * width)``, capped at ``max_channels * width``). ``"n"`` is the published SpikeYOLO-n
(13.2 M parameters on COCO's 80 classes); ``"tiny"`` is a small one for real time on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Compound scaling: ``depth`` multiplies block repeats, ``width`` channels (capped at ``max_channels``).

    ``p5_mlp_ratio`` is the channel-mixer expansion of the last (P5 output) block: 1 for the
    authors' n and s sizes, 2 for m and l (a note in their yaml).
    """

    depth: float
    width: float
    max_channels: int = 1024
    p5_mlp_ratio: int = 1

    def __post_init__(self) -> None:
        if self.depth <= 0 or self.width <= 0 or self.max_channels < 1:
            raise ValueError(f"invalid scale {self}")

    def repeats(self, n: int) -> int:
        return max(round(n * self.depth), 1) if n > 1 else n

    def channels(self, c: int) -> int:
        return max(int(min(c, self.max_channels) * self.width), 1)


SCALES: dict[str, Scale] = {
    "tiny": Scale(0.33, 0.0625),
    "mini": Scale(0.33, 0.125),
    "n": Scale(0.33, 0.375),
    "s": Scale(0.33, 0.5),
}
"""Named scales: ``n`` and ``s`` are the paper's (13.2 M and 23.1 M parameters on COCO, 80 classes).

``tiny`` (0.6 M parameters for 2 classes, about 1.2 GMAC per 320x256 window at T = 4) is sized for
real time on 2 CPU cores; ``mini`` doubles its width (1.7 M, about 3.6 GMAC at T = 4)."""


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that fixes a SpikeYOLO network's shape.

    ``in_channels``: channels of one time step of the input (3 for SpikeYOLO's Gen1 frames);
    ``num_classes``: detection classes; ``reg_max``: DFL bins per box side (YOLOv8: 16);
    ``max_value`` and ``decay``: the I-LIF neurons' D and decay (SpikeYOLO: 4 and 0.25).
    """

    scale: str = "tiny"
    num_classes: int = 2
    in_channels: int = 3
    reg_max: int = 16
    max_value: int = 4
    decay: float = 0.25

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose one of {sorted(SCALES)}")
        for name in ("num_classes", "in_channels", "reg_max", "max_value"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def scaling(self) -> Scale:
        return SCALES[self.scale]


STRIDES: tuple[int, int, int] = (8, 16, 32)
"""Strides of the three detection levels (P3, P4, P5); inputs must be multiples of 32."""
