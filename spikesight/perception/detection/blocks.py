"""SpikeYOLO's meta SNN blocks over ``[T, B, C, H, W]``: I-LIF neurons stand before convolutions.

Structure from SpikeYOLO (Luo et al., ECCV 2024, Fig. 2 and the authors' ``yolo_spikformer.py``,
read for the facts only): every synaptic layer is fed by an I-LIF neuron, followed by batch norm.

* :class:`SepConv`: neuron, 1x1 conv to ``2C``, BN, neuron, depthwise ``k x k`` conv, BN,
  neuron, then a re-parameterisable 1x1 + depthwise 3x3 pair back to ``C`` (BN with padding by
  BN(0) before the 1x1, so the pair folds into one conv), BN.
* :class:`AllConvBlock` (high resolution): ``x + SepConv(x)``, then ``+`` two neuron-3x3-conv-BN
  units (``C -> rC -> C``).
* :class:`ConvBlock` (deeper): ``x + SepConv(x)``, then ``+`` a channel mixer of two
  re-parameterisable convs (1x1, BN padded, depthwise 3x3, 1x1, BN; ``C -> rC -> C``).
* :class:`DownSampling`: (neuron,) conv with bias, BN; the first one has no neuron.
* :class:`SPPF`: neuron-1x1-conv-BN to ``C/2``, three chained max pools, concatenation,
  neuron-1x1-conv-BN.

:class:`SpikeConv` is the synapse after a neuron: in integer mode it is a conv on the integer
spikes; in spike-driven mode (``max_value = D``) it takes the D binary virtual steps of each time
step and accumulates (see :class:`~spikesight.perception.snn.neurons.SpikeDriven`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..snn.neurons import ILIF, SpikeDriven, spike_driven_apply


def seq_bn(bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-d per-sample layer to ``[T, B, C, H, W]`` by folding T into the batch."""
    return bn(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def _bn_zero(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(a, c)`` with ``bn(x) = a x + c`` in eval mode (running statistics)."""
    a = bn.running_var.add(bn.eps).rsqrt()
    c = -bn.running_mean * a
    if bn.affine:
        a = a * bn.weight
        c = c * bn.weight + bn.bias
    return a, c


def _pad_with(y: torch.Tensor, fill: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad the last two dimensions of ``y`` (channels at dim -3) by ``pad`` with per-channel ``fill``."""
    if not pad:
        return y
    fill = fill.detach().view(-1, 1, 1)
    return F.pad(y - fill, [pad] * 4) + fill


class SpikeConv(SpikeDriven):
    """A conv fed by I-LIF spikes, ``[T * v, B, C, H, W] -> [T, B, C', H', W']`` with ``v = max_value``.

    ``max_value`` is 1 in integer mode (a plain conv on the integers) and D in spike-driven mode
    (a sum over the D binary virtual steps; the bias is added once per real step).
    ``pre_bn=True`` puts a BN before the conv whose padding is filled with BN(0), as in SpikeYOLO's
    re-parameterisable convs: in training it runs as written; in eval mode it is folded into
    the conv weights (``W diag(a)``, bias ``W c``, zero padding), which is what lets it run on
    binary spikes.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        bias: bool = False,
        pre_bn: bool = False,
    ) -> None:
        if pre_bn and groups != 1:
            raise ValueError("pre_bn folds only into an ungrouped conv")
        padding = kernel_size // 2 if padding is None else padding
        conv = nn.Conv2d(c_in, c_out, kernel_size, stride, 0 if pre_bn else padding, groups=groups, bias=bias)
        super().__init__(conv, max_value=1)
        self.pad = padding
        self.pre_bn = nn.BatchNorm2d(c_in) if pre_bn else None

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        if self.pre_bn is None:
            return spike_driven_apply(self.layer, b, self.max_value)
        if self.pre_bn.training:
            if self.max_value != 1:
                raise RuntimeError("spike-driven mode needs eval mode (the BN before the conv is folded)")
            y = _pad_with(seq_bn(self.pre_bn, b), _bn_zero(self.pre_bn)[1], self.pad)
            return seq_bn(self.layer, y)
        a, c = _bn_zero(self.pre_bn)
        conv = self.layer
        weight = conv.weight * a.view(1, -1, 1, 1)
        bias = conv.weight.sum((2, 3)) @ c
        if conv.bias is not None:
            bias = bias + conv.bias
        steps = b.unflatten(0, (-1, self.max_value))
        t, n = steps.shape[0], steps.shape[2]
        out = F.conv2d(steps[:, 0].flatten(0, 1), weight, None, conv.stride, self.pad)
        for k in range(1, self.max_value):
            out = out + F.conv2d(steps[:, k].flatten(0, 1), weight, None, conv.stride, self.pad)
        return (out + bias.view(1, -1, 1, 1)).unflatten(0, (t, n))


class PadBN(nn.BatchNorm2d):
    """BN, then padding filled with BN(0) (from the running statistics), so a valid conv after it
    equals a zero-padded conv on the input of the BN: the pair folds into one conv."""

    def __init__(self, channels: int, pad: int) -> None:
        super().__init__(channels)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _pad_with(super().forward(x), _bn_zero(self)[1], self.pad)


class LIFConvBN(nn.Module):
    """I-LIF, conv, BN: SpikeYOLO's standard conv unit (``MS_StandardConv`` / ``SpikeConv``)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bn: bool = True,
        bias: bool = False,
        max_value: int = 4,
        decay: float = 0.25,
    ) -> None:
        super().__init__()
        self.lif = ILIF(max_value, decay)
        self.conv = SpikeConv(c_in, c_out, kernel_size, stride, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(c_out) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.lif(x))
        return y if self.bn is None else seq_bn(self.bn, y)


class SepConv(nn.Module):
    """Inverted separable conv with I-LIF neurons (``C -> 2C -> C``), the token mixer of both blocks."""

    def __init__(
        self, dim: int, kernel_size: int = 7, expansion: int = 2, max_value: int = 4, decay: float = 0.25
    ) -> None:
        super().__init__()
        mid = expansion * dim
        self.pw1 = LIFConvBN(dim, mid, 1, max_value=max_value, decay=decay)
        self.dw = LIFConvBN(mid, mid, kernel_size, groups=mid, max_value=max_value, decay=decay)
        self.lif3 = ILIF(max_value, decay)
        self.pw3 = SpikeConv(mid, dim, 1, padding=1, pre_bn=True)
        self.dw3 = nn.Conv2d(dim, dim, 3, groups=dim, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw3(self.lif3(self.dw(self.pw1(x))))
        return seq_bn(self.bn3, seq_bn(self.dw3, y))


class RepConv(nn.Module):
    """Re-parameterisable conv fed by I-LIF spikes: 1x1, BN (padded), depthwise 3x3, 1x1, BN.

    The four linear layers fold into one 3x3 conv at inference; kept apart here for training.
    """

    def __init__(self, c_in: int, c_out: int, max_value: int = 4, decay: float = 0.25) -> None:
        super().__init__()
        self.lif = ILIF(max_value, decay)
        self.conv1 = SpikeConv(c_in, c_in, 1)
        self.bn1 = PadBN(c_in, 1)
        self.dw = nn.Conv2d(c_in, c_in, 3, groups=c_in, bias=False)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.lif(x))
        for layer in (self.bn1, self.dw, self.pw, self.bn2):
            y = seq_bn(layer, y)
        return y


class AllConvBlock(nn.Module):
    """SpikeYOLO's all-conv meta block (``MS_AllConvBlock``): SepConv, then two 3x3 convs, both residual."""

    def __init__(
        self, dim: int, mlp_ratio: int = 4, kernel_size: int = 7, max_value: int = 4, decay: float = 0.25
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.sep = SepConv(dim, kernel_size, max_value=max_value, decay=decay)
        self.conv1 = LIFConvBN(dim, hidden, 3, max_value=max_value, decay=decay)
        self.conv2 = LIFConvBN(hidden, dim, 3, max_value=max_value, decay=decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.sep(x)
        return x + self.conv2(self.conv1(x))


class ConvBlock(nn.Module):
    """SpikeYOLO's separable-conv meta block (``MS_ConvBlock``): SepConv, then a RepConv channel mixer."""

    def __init__(
        self, dim: int, mlp_ratio: int = 4, kernel_size: int = 7, max_value: int = 4, decay: float = 0.25
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.sep = SepConv(dim, kernel_size, max_value=max_value, decay=decay)
        self.mix1 = RepConv(dim, hidden, max_value, decay)
        self.mix2 = RepConv(hidden, dim, max_value, decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.sep(x)
        return x + self.mix2(self.mix1(x))


class DownSampling(nn.Module):
    """Strided conv with bias, then BN; an I-LIF before it except for the first (real-valued input) one."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        first: bool = False,
        max_value: int = 4,
        decay: float = 0.25,
    ) -> None:
        super().__init__()
        self.first = first
        if first:
            self.lif = None
            self.conv: nn.Module = nn.Conv2d(c_in, c_out, kernel_size, stride, padding)
        else:
            self.lif = ILIF(max_value, decay)
            self.conv = SpikeConv(c_in, c_out, kernel_size, stride, padding, bias=True)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = seq_bn(self.conv, x) if self.lif is None else self.conv(self.lif(x))
        return seq_bn(self.bn, y)


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: 1x1 unit to ``C/2``, three chained ``k x k`` max pools, concat, 1x1."""

    def __init__(self, c_in: int, c_out: int, k: int = 5, max_value: int = 4, decay: float = 0.25) -> None:
        super().__init__()
        hidden = c_in // 2
        self.cv1 = LIFConvBN(c_in, hidden, 1, max_value=max_value, decay=decay)
        self.cv2 = LIFConvBN(4 * hidden, c_out, 1, max_value=max_value, decay=decay)
        self.pool = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(seq_bn(self.pool, y[-1]))
        return self.cv2(torch.cat(y, 2))
