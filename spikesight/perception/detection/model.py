"""SpikeYOLO: YOLOv8 simplified and built from meta SNN blocks with I-LIF neurons.

The layer table is the authors' ``snn_yolov8.yaml`` (BICLab/SpikeYOLO; facts only) with base
channels scaled by :class:`~.config.Scale`::

    backbone  stem: conv k7 s4 p2 + BN (no neuron before it)         C1 = 128w   stride 4
              AllConvBlock x3 (mlp 4, k 7)
              down 3x3 s2 -> C2 = 256w, AllConvBlock x6              stride 8   -> P3 lateral
              down 3x3 s2 -> C3 = 512w, ConvBlock x9 (mlp 3)         stride 16  -> P4 lateral
              down 3x3 s2 -> C4 = 1024w, ConvBlock x3 (mlp 2), SPPF  stride 32
    neck      L5 = 1x1 unit -> 512w; up x2; ConvBlock (mlp 3); cat P4 lateral
              L4 = 1x1 unit -> 256w; up x2; AllConvBlock; cat P3 lateral
              1x1 unit -> 256w; AllConvBlock                        -> out P3 (stride 8)
              3x3 s2 unit -> 256w; cat L4; ConvBlock (mlp 3)         -> out P4 (stride 16)
              3x3 s2 unit -> 512w; cat L5; ConvBlock (mlp 1 in n, s)  -> out P5 (stride 32)
    head      YOLOv8's decoupled head per level: box branch (two 3x3 units to
              max(16, c_P3 / 4, 4 reg_max), a 1x1 conv to 4 reg_max), class branch (two 3x3
              units to max(c_P3, min(classes, 100)), a 1x1 conv to the classes); every conv fed
              by an I-LIF; outputs averaged over T.

Repeats are scaled by ``depth`` (x3 -> 1, x6 -> 2, x9 -> 3 at 0.33). Input ``[T, B, C, H, W]``
with H and W multiples of 32; output one ``[B, 4 reg_max + classes, H / s, W / s]`` map per
stride ``s`` in (8, 16, 32) (box logits first: ``reg_max`` DFL bins for each of left, top,
right, bottom). Membrane state persists across calls (a stream of windows) until
:func:`~spikesight.perception.snn.base.reset_net`. Setting :attr:`SpikeYOLO.spike_driven`
(eval mode only) makes every I-LIF emit D binary virtual steps and every conv after one
accumulate them; the outputs equal the integer mode's up to float rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..snn.neurons import ILIF
from .blocks import SPPF, AllConvBlock, ConvBlock, DownSampling, LIFConvBN, SpikeConv
from .config import STRIDES, DetectorConfig


def _repeat(block: type[nn.Module], n: int, dim: int, mlp_ratio: int, cfg: DetectorConfig) -> nn.Sequential:
    return nn.Sequential(*(block(dim, mlp_ratio, 7, cfg.max_value, cfg.decay) for _ in range(n)))


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x.flatten(0, 1), scale_factor=2.0, mode="nearest").unflatten(0, x.shape[:2])


class DetectHead(nn.Module):
    """YOLOv8's anchor-free decoupled head with I-LIF units; each level's output averaged over T."""

    def __init__(self, channels: tuple[int, ...], cfg: DetectorConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.reg_max = cfg.reg_max
        c_box = max(16, channels[0] // 4, 4 * cfg.reg_max)
        c_cls = max(channels[0], min(cfg.num_classes, 100))
        d, k = cfg.max_value, cfg.decay

        def branch(c_in: int, hidden: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                LIFConvBN(c_in, hidden, 3, max_value=d, decay=k),
                LIFConvBN(hidden, hidden, 3, max_value=d, decay=k),
                LIFConvBN(hidden, c_out, 1, bn=False, bias=True, max_value=d, decay=k),
            )

        self.box = nn.ModuleList(branch(c, c_box, 4 * cfg.reg_max) for c in channels)
        self.cls = nn.ModuleList(branch(c, c_cls, cfg.num_classes) for c in channels)

    def init_biases(self, strides: tuple[int, ...], image_size: int = 640) -> None:
        """YOLOv8's prior: box logits 1, class logits for about 5 objects per ``image_size``^2 image."""
        for box, cls, s in zip(self.box, self.cls, strides, strict=True):
            nn.init.constant_(box[-1].conv.layer.bias, 1.0)
            nn.init.constant_(cls[-1].conv.layer.bias, math.log(5 / self.num_classes / (image_size / s) ** 2))

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [
            torch.cat((box(x), cls(x)), 2).mean(0)
            for x, box, cls in zip(features, self.box, self.cls, strict=True)
        ]


class SpikeYOLO(nn.Module):
    """The SpikeYOLO detector (see the module docstring): ``[T, B, C, H, W]`` -> three head maps."""

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or DetectorConfig()
        sc = cfg.scaling
        d, k = cfg.max_value, cfg.decay
        c1, c2, c3, c4 = (sc.channels(c) for c in (128, 256, 512, 1024))
        n256, n512 = sc.channels(256), sc.channels(512)

        self.stem = DownSampling(cfg.in_channels, c1, 7, 4, 2, first=True)
        self.stage1 = _repeat(AllConvBlock, sc.repeats(3), c1, 4, cfg)
        self.down2 = DownSampling(c1, c2, max_value=d, decay=k)
        self.stage2 = _repeat(AllConvBlock, sc.repeats(6), c2, 4, cfg)
        self.down3 = DownSampling(c2, c3, max_value=d, decay=k)
        self.stage3 = _repeat(ConvBlock, sc.repeats(9), c3, 3, cfg)
        self.down4 = DownSampling(c3, c4, max_value=d, decay=k)
        self.stage4 = _repeat(ConvBlock, sc.repeats(3), c4, 2, cfg)
        self.sppf = SPPF(c4, c4, 5, d, k)

        self.lat5 = LIFConvBN(c4, n512, 1, max_value=d, decay=k)
        self.td4 = ConvBlock(n512, 3, 7, d, k)
        self.lat4 = LIFConvBN(n512 + c3, n256, 1, max_value=d, decay=k)
        self.td3 = AllConvBlock(n256, 4, 7, d, k)
        self.reduce3 = LIFConvBN(n256 + c2, n256, 1, max_value=d, decay=k)
        self.out3 = AllConvBlock(n256, 4, 7, d, k)
        self.down_p4 = LIFConvBN(n256, n256, 3, 2, max_value=d, decay=k)
        self.out4 = ConvBlock(2 * n256, 3, 7, d, k)
        self.down_p5 = LIFConvBN(2 * n256, n512, 3, 2, max_value=d, decay=k)
        self.out5 = ConvBlock(2 * n512, sc.p5_mlp_ratio, 7, d, k)

        self.head = DetectHead((n256, 2 * n256, 2 * n512), cfg)
        self.head.init_biases(STRIDES)
        self._spike_driven = False

    @property
    def strides(self) -> tuple[int, ...]:
        return STRIDES

    @property
    def spike_driven(self) -> bool:
        return self._spike_driven

    @spike_driven.setter
    def spike_driven(self, value: bool) -> None:
        if value and self.training:
            raise RuntimeError("spike-driven mode is for inference: call .eval() first")
        for m in self.modules():
            if isinstance(m, ILIF):
                m.spike_driven = bool(value)
            elif isinstance(m, SpikeConv):
                m.max_value = self.cfg.max_value if value else 1
        self._spike_driven = bool(value)

    def train(self, mode: bool = True) -> SpikeYOLO:
        if mode and self._spike_driven:
            self.spike_driven = False
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 5 or x.shape[2] != self.cfg.in_channels:
            raise ValueError(f"input must be [T, B, {self.cfg.in_channels}, H, W], got {tuple(x.shape)}")
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"input height and width must be multiples of 32, got {tuple(x.shape[-2:])}")
        x = self.stage1(self.stem(x))
        p3 = self.stage2(self.down2(x))
        p4 = self.stage3(self.down3(p3))
        p5 = self.sppf(self.stage4(self.down4(p4)))
        l5 = self.lat5(p5)
        l4 = self.lat4(torch.cat((self.td4(_upsample(l5)), p4), 2))
        o3 = self.out3(self.reduce3(torch.cat((self.td3(_upsample(l4)), p3), 2)))
        o4 = self.out4(torch.cat((self.down_p4(o3), l4), 2))
        o5 = self.out5(torch.cat((self.down_p5(o4), l5), 2))
        return self.head([o3, o4, o5])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers such as BN statistics excluded)."""
    return sum(p.numel() for p in model.parameters())
