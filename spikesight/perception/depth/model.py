"""Spiking U-Net for monocular event depth, in the spirit of MSS-DepthNet, and its ANN twin.

MSS-DepthNet (Wu et al., arXiv 2211.12156; journal version IEEE TCDS 16(6), 2024) is a multi-step
spiking encoder-decoder with "a novel residual block" and "multi-dimension attention modules". Its
full text and code could not be found, so this module is a **reconstruction** from what its
abstracts state and from its group's published pieces, not the paper's exact network:

* the layout is E2Depth's U-Net (Hidalgo-Carrió et al., 3DV 2020; the "same size" ANN the paper
  compares with), without the ConvLSTM: a head conv, three stride-2 encoder stages (channels
  c, 2c, 4c, 8c), residual blocks at the bottleneck, three decoder stages (nearest upsampling x2
  then a conv) with additive skips, and a 1x1 prediction layer. ``config.head_stride = 2`` (the
  tiny model) makes the head conv stride 2: the network then runs at half resolution and its
  prediction is upsampled bilinearly, for a quarter of the work;
* the residual block is the membrane-shortcut block of MS-ResNet / Att-Res-SNN (BICLab):
  ``u + BN(conv(LIF(BN(conv(LIF(u))))))``. The shortcut adds *membrane inputs* (currents) and the
  sum reaches the next neuron, so every spike in the network stays binary;
* the skips are additive in the same domain: a decoder stage adds the encoder's current at the
  same resolution to its own before its neuron (E2Depth adds feature maps; adding spikes would
  make them non-binary);
* multi-dimensional attention (MA-SNN's TCSA, :class:`~spikesight.perception.snn.AttentionLIF`:
  temporal attention on the input current, channel then spatial attention on the membrane) is in
  the neurons that feed the three encoder convolutions, behind a fixed input gain that makes up for
  the sigmoids' 0.5 of an untrained attention (:func:`attention_gain`);
* every synaptic layer but the head conv is fed by a neuron (pre-activation order), so it only
  accumulates spikes; nearest upsampling keeps spikes binary. BN statistics are shared over T.
* The readout is non-spiking: the 1x1 prediction conv of the last neuron's spikes is averaged
  over the T steps (the membrane of a non-firing integrator, divided by T) and squashed by a
  sigmoid into normalised log depth in [0, 1] (see :mod:`.convert`).

Input ``[T, B, C, H, W]``; any H, W (padded inside with zeros at the bottom and right to a multiple
of ``config.multiple``, 8 times the head stride; the output is cropped back); output
``[B, 1, H, W]``. Neuron state persists across calls until
:func:`~spikesight.perception.snn.reset_net` (or :meth:`DepthNet.reset`), so a stream of windows
can be processed as one long sequence.

The ANN twin (``config.ann=True``) is the same network with ReLU for every neuron, no time steps
(the input's T is folded into channels: ``[T, B, C, H, W] -> [B, T*C, H, W]``, channel ``t*C + c``)
and channel + spatial attention (CBAM) on the pre-activation where the SNN has TCSA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..snn import LIF, AttentionLIF, ChannelAttention, Rectangle, SpatialAttention, reset_net
from .config import DEPTH_CONFIGS, DepthConfig


def _fold(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-frame 2-d module to ``[T, B, C, H, W]`` (T folded into the batch) or ``[B, C, H, W]``."""
    if x.dim() == 5:
        return module(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    return module(x)


class ConvBN(nn.Module):
    """Bias-free conv then batch norm, on ``[T, B, C, H, W]`` or ``[B, C, H, W]``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _fold(lambda y: self.bn(self.conv(y)), x)


class AttentionReLU(nn.Module):
    """The ANN twin's attention neuron: CBAM channel then spatial attention on the pre-activation, ReLU."""

    def __init__(self, letters: str, channels: int, reduction: int, kernel_size: int) -> None:
        super().__init__()
        self.ca = ChannelAttention(channels, reduction) if "C" in letters else None
        self.sa = SpatialAttention(kernel_size) if "S" in letters else None

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        if self.ca is not None:
            u = self.ca(u) * u
        if self.sa is not None:
            u = self.sa(u) * u
        return F.relu(u)


def make_neuron(config: DepthConfig, channels: int | None = None) -> nn.Module:
    """A neuron for ``config``: LIF (SNN) or ReLU (ANN); with ``channels``, the attention variant."""
    letters = config.attention_kind.upper().removesuffix("A")
    if config.ann:
        ann_letters = letters.replace("T", "")
        if channels is not None and ann_letters:
            return AttentionReLU(ann_letters, channels, config.reduction, config.spatial_kernel)
        return nn.ReLU()
    lif = dict(
        tau=config.tau,
        decay_input=False,
        v_threshold=config.v_threshold,
        v_reset=0.0,
        surrogate_function=Rectangle(config.surrogate_width),
        detach_reset=config.detach_reset,
    )
    if channels is None:
        return LIF(**lif)
    return AttentionLIF(
        attention=letters,
        channels=channels,
        T=config.steps,
        reduction_t=config.reduction,
        reduction_c=config.reduction,
        kernel_size=config.spatial_kernel,
        **lif,
    )


def attention_gain(config: DepthConfig) -> float:
    """``2 ** k`` for the k attention dimensions of a spiking encoder neuron, else 1.

    Each attention weight is a sigmoid, 0.5 for an untrained module, so an attended membrane
    starts ``2 ** k`` times smaller than a plain one and the neuron stays silent; this fixed gain
    on its input current starts it at the scale of an unattended neuron (attention weights of
    effectively ``2 sigma``, centred on 1).
    """
    if config.ann or not config.attention:
        return 1.0
    return 2.0 ** len(config.attention_kind.upper().removesuffix("A"))


class EncoderStage(nn.Module):
    """Current in, current out: (attention) neuron, stride-2 conv, BN."""

    def __init__(self, config: DepthConfig, c_in: int, c_out: int) -> None:
        super().__init__()
        self.neuron = make_neuron(config, c_in if config.attention else None)
        self.conv = ConvBN(c_in, c_out, config.kernel_size, stride=2)
        self.gain = attention_gain(config)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.conv(self.neuron(u * self.gain if self.gain != 1.0 else u))


class ResidualBlock(nn.Module):
    """Membrane-shortcut residual block: ``u + branch(u)``, ``branch = BN conv N BN conv N``.

    The shortcut adds real-valued membrane inputs; no neuron sits on the summed path, so the
    next neuron receives ``u + branch(u)`` and its spikes stay binary.
    """

    def __init__(self, config: DepthConfig, channels: int) -> None:
        super().__init__()
        self.neuron1 = make_neuron(config)
        self.conv1 = ConvBN(channels, channels, config.kernel_size)
        self.neuron2 = make_neuron(config)
        self.conv2 = ConvBN(channels, channels, config.kernel_size)

    def branch(self, u: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.neuron2(self.conv1(self.neuron1(u))))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.branch(u)


class DecoderStage(nn.Module):
    """Neuron, nearest upsampling x2, conv, BN, plus the encoder's current at that resolution."""

    def __init__(self, config: DepthConfig, c_in: int, c_out: int) -> None:
        super().__init__()
        self.neuron = make_neuron(config)
        self.conv = ConvBN(c_in, c_out, config.kernel_size)

    def forward(self, u: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(current out, the spikes fired at the input's resolution)``."""
        spikes = self.neuron(u)
        s = _fold(lambda y: F.interpolate(y, scale_factor=2.0, mode="nearest"), spikes)
        return self.conv(s) + skip, spikes


class PredictionHead(nn.Module):
    """The non-spiking readout: neuron(s), conv(s) to one channel, averaged over T (the SNN), sigmoid.

    ``readout="last"``: a 1x1 conv of the spikes of the last decoder current. ``"multiscale"``: a
    3x3 conv of those spikes plus 1x1 convs of the spikes the two coarser decoder stages fire
    (upsampled bilinearly to the finest scale and summed), so the output potential integrates
    more binary inputs per pixel than the finest stage's few channels.
    """

    def __init__(self, config: DepthConfig, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.multiscale = config.readout == "multiscale"
        self.neuron = make_neuron(config)
        self.conv = nn.Conv2d(channels[0], 1, 3 if self.multiscale else 1, padding="same")
        self.coarse = (nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels[1:3])
                       if self.multiscale else None)
        self.scale = config.head_stride

    def forward(self, u: torch.Tensor, coarse: tuple[torch.Tensor, ...] = ()) -> torch.Tensor:
        y = _fold(self.conv, self.neuron(u))
        if self.coarse is not None:
            size = y.shape[-2:]
            for conv, spikes in zip(self.coarse, coarse, strict=True):
                up = _fold(lambda z: F.interpolate(z, size=size, mode="bilinear", align_corners=False),
                           _fold(conv, spikes))
                y = y + up
        if y.dim() == 5:
            y = y.mean(0)
        if self.scale > 1:
            y = F.interpolate(y, scale_factor=float(self.scale), mode="bilinear", align_corners=False)
        return torch.sigmoid(y)


class DepthNet(nn.Module):
    """Spiking U-Net (or its ANN twin): ``[T, B, C, H, W]`` events -> ``[B, 1, H, W]`` log depth in [0, 1]."""

    def __init__(self, config: DepthConfig | None = None) -> None:
        super().__init__()
        self.config = config = DepthConfig() if config is None else config
        c0, c1, c2, c3 = config.channels
        c_in = config.in_channels * (config.steps if config.ann else 1)
        self.head = ConvBN(c_in, c0, config.kernel_size, stride=config.head_stride)
        self.encoders = nn.ModuleList(
            [EncoderStage(config, c0, c1), EncoderStage(config, c1, c2), EncoderStage(config, c2, c3)]
        )
        self.residual = nn.Sequential(*[ResidualBlock(config, c3) for _ in range(config.residual_blocks)])
        self.decoders = nn.ModuleList(
            [DecoderStage(config, c3, c2), DecoderStage(config, c2, c1), DecoderStage(config, c1, c0)]
        )
        self.predict = PredictionHead(config, (c0, c1, c2))

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.config
        if x.dim() != 5 or x.shape[0] != cfg.steps or x.shape[2] != cfg.in_channels:
            raise ValueError(
                f"expected input [T={cfg.steps}, B, C={cfg.in_channels}, H, W], got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        t, b, c, h, w = x.shape
        if self.config.ann:
            x = x.transpose(0, 1).reshape(b, t * c, h, w)
        m = self.config.multiple
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        u0 = self.head(x)
        u1 = self.encoders[0](u0)
        u2 = self.encoders[1](u1)
        u3 = self.residual(self.encoders[2](u2))
        d, _ = self.decoders[0](u3, u2)
        d, s2 = self.decoders[1](d, u1)
        d, s1 = self.decoders[2](d, u0)
        return self.predict(d, (s1, s2))[..., :h, :w]

    def reset(self) -> None:
        """Clear every neuron's state (start of an independent sequence)."""
        reset_net(self)


def build_depth_model(config: DepthConfig | str = "tiny") -> DepthNet:
    """A fresh network for ``config`` (a :class:`DepthConfig` or a name of ``DEPTH_CONFIGS``)."""
    if isinstance(config, str):
        if config not in DEPTH_CONFIGS:
            raise ValueError(f"unknown depth config {config!r}; choose one of {sorted(DEPTH_CONFIGS)}")
        config = DEPTH_CONFIGS[config]
    return DepthNet(config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
