"""TA-SNN (and its MA-SNN variant) for DVS128 Gesture: 3 conv and 2 FC spiking layers, attention over time.

Layout of the authors' code for DVS128 Gesture (BICLab/TA-SNN ``TA_SNN_CNN_3.py``; read for the facts,
nothing copied), input ``[T, B, 2, 32, 32]``::

    L1 Conv(2->64, 3x3, pad 1) + BN                 -> [64, 32, 32]
    L2 Conv(64->128) + BN + AvgPool 2               -> [128, 16, 16]
    L3 Conv(128->128) + BN + AvgPool 2              -> [128, 8, 8]
    L4 Linear(8192->256) + BN1d,  L5 Linear(256->11) + BN1d
    each layer: op on all T*B frames -> temporal-wise attention over T -> LIF over t
    output: the firing rate of L5, mean over T                      -> [B, 11]

The neuron is the code's: ``U[t] = 0.3 H[t-1] + I[t]``, spike when ``U >= 0.3``, rectangular surrogate
of width 0.5 (:class:`~spikesight.perception.snn.LIF` with ``tau = 1/0.7``, ``decay_input=False``);
after a spike the membrane resets to 0 (the paper's Eq. 4; the code resets to the threshold).
Temporal attention (:class:`~spikesight.perception.snn.TemporalAttention`) weights each layer's current
(Conv-POST, as the code and MA-SNN's Table 4 best place it); the code squeezes by the mean only
(``use_max=False``) with reduction 16.

``input_attention`` adds one more temporal attention on the input frames (the paper's Eq. 8 form:
``X~[t] = d_t X[t]``; its squeeze is the event count of each frame). It is the frame-dropping score: with
``d_th`` set and the model in eval mode, frames whose score is under ``d_th`` are dropped (the paper's
IAP) and kept frames pass with weight 1. A dropped frame is skipped in every layer: convolutions,
linear layers, normalisation and pooling run only on the kept frames
(:class:`~spikesight.perception.snn.SkipSteps`), and the result equals the masked computation in which
every layer's current is ``keep[t] * op(X[t])``. The neurons still step through a dropped frame with
zero input (their membrane decays; with zero input they never fire), so the network output is exactly
that of the masked network.

``attention`` picks the variant: ``"none"`` (vanilla SNN), ``"TA"`` (TA-SNN) or an MA-SNN combination
of T, C, S (``"TCSA"``, ``"TCA"``, ``"CSA"``...): conv layers then use
:class:`~spikesight.perception.snn.AttentionLIF` (temporal attention on the current, channel and
spatial attention on the membrane) and FC layers temporal attention only (as the MA-SNN code does).

Every forward pass is an independent window: the network state is reset at its start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from spikesight.perception.snn import LIF, AttentionLIF, Rectangle, SkipSteps, TemporalAttention, reset_net


@dataclass(frozen=True)
class GestureNetConfig:
    """Architecture and input of :class:`GestureNet` (see the module docstring)."""

    T: int = 60
    dt_us: int = 15_000
    size: int = 32
    in_channels: int = 2
    num_classes: int = 11
    conv_channels: tuple[int, ...] = (64, 128, 128)
    pool: tuple[bool, ...] = (False, True, True)
    hidden: int = 256
    attention: str = "TA"
    input_attention: bool = True
    use_max: bool = False
    reduction_t: int = 16
    reduction_c: int = 8
    spatial_kernel: int = 3
    tau: float = 1.0 / 0.7
    v_threshold: float = 0.3
    surrogate_width: float = 0.5
    d_th: float | None = None

    def __post_init__(self) -> None:
        if len(self.conv_channels) != len(self.pool):
            raise ValueError("conv_channels and pool must have the same length")
        if self.size % (2 ** sum(self.pool)):
            raise ValueError(f"size {self.size} is not divisible by the pooling factor {2 ** sum(self.pool)}")
        letters = self.letters
        if set(letters) - set("TCS"):
            raise ValueError(
                f"attention must be 'none', 'TA' or a combination of T, C, S, got {self.attention!r}"
            )
        if self.d_th is not None and not self.input_attention:
            raise ValueError("frame dropping (d_th) needs input_attention=True: it scores the input frames")

    @property
    def letters(self) -> str:
        """The attention dimensions switched on, ``""`` for none (``"TA"`` -> ``"T"``)."""
        a = self.attention.upper()
        if a == "NONE":
            return ""
        return a[:-1] if a.endswith("A") else a

    @property
    def flat_features(self) -> int:
        side = self.size // 2 ** sum(self.pool)
        return self.conv_channels[-1] * side * side

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GestureNetConfig:
        d = dict(d)
        for k in ("conv_channels", "pool"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


#: The paper's settings and a small one for real time on a CPU.
CONFIGS: dict[str, GestureNetConfig] = {
    # TA-SNN, LIF, dt 15 ms x T 60 (the RCS/TA ablation setting; 95.49 % reported with RCS + TA)
    "ta-snn": GestureNetConfig(),
    # the same network without attention (MA-SNN's vanilla baseline, 90.63 %)
    "vanilla": GestureNetConfig(attention="none", input_attention=False),
    # MA-SNN TCSA on the same 3-layer net (MA-SNN Table 1: 96.53 %); the run log's t_ratio 5, c_ratio 8
    "ma-snn": GestureNetConfig(attention="TCSA", use_max=True, reduction_t=5),
    # small: 500 ms windows of 20 frames, a quarter of the channels
    "small": GestureNetConfig(T=20, dt_us=25_000, conv_channels=(16, 32, 32), hidden=128, reduction_t=4),
}


class SpikingLayer(nn.Module):
    """One layer: ``op`` on every (kept) frame, then temporal attention, then the spiking neuron."""

    def __init__(self, op: nn.Module, neuron: nn.Module, ta: TemporalAttention | None) -> None:
        super().__init__()
        self.op = SkipSteps(op)
        self.ta = ta
        self.neuron = neuron

    def current(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        """``op`` over ``[T, B, ...]``: on all frames, or only the kept ones (zeros elsewhere)."""
        if keep is not None:
            return self.op(x, keep)
        t, b = x.shape[:2]
        return self.op.layer(x.flatten(0, 1)).unflatten(0, (t, b))

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        cur = self.current(x, keep)
        if self.ta is not None:
            cur = self.ta(cur)
        return self.neuron(cur)


class GestureNet(nn.Module):
    """TA-SNN / MA-SNN: ``[T, B, 2, size, size]`` frames -> ``[B, classes]`` firing rates."""

    def __init__(self, config: GestureNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or GestureNetConfig()
        letters = c.letters
        self.gate = TemporalAttention(c.T, c.reduction_t, c.d_th, c.use_max) if c.input_attention else None
        if self.gate is not None:
            # the gate squeezes event counts (>= 0): with the bias-free MLP, a hidden unit whose weights
            # are all negative never opens and gets no gradient; start with every unit open
            with torch.no_grad():
                self.gate.excitation[0].weight.abs_()
        layers = []
        cin = c.in_channels
        for cout, pool in zip(c.conv_channels, c.pool, strict=True):
            ops: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout)]
            if pool:
                ops.append(nn.AvgPool2d(2))
            layers.append(self._layer(nn.Sequential(*ops), cout, letters))
            cin = cout
        self.conv_layers = nn.ModuleList(layers)
        fc_letters = "T" if "T" in letters else ""
        self.fc_layers = nn.ModuleList(
            self._layer(nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out)), n_out, fc_letters)
            for n_in, n_out in ((c.flat_features, c.hidden), (c.hidden, c.num_classes))
        )
        #: the keep mask ``[T, B]`` of the last forward pass (all True unless frames were dropped)
        self.last_keep: torch.Tensor | None = None

    def _lif_kwargs(self) -> dict:
        c = self.config
        return dict(
            tau=c.tau,
            decay_input=False,
            v_threshold=c.v_threshold,
            v_reset=0.0,
            surrogate_function=Rectangle(c.surrogate_width),
        )

    def _layer(self, op: nn.Module, channels: int, letters: str) -> SpikingLayer:
        c = self.config
        if set(letters) & set("CS"):
            neuron = AttentionLIF(
                letters + "A",
                channels=channels,
                T=c.T,
                reduction_t=c.reduction_t,
                reduction_c=c.reduction_c,
                kernel_size=c.spatial_kernel,
                **self._lif_kwargs(),
            )
            return SpikingLayer(op, neuron, None)
        ta = TemporalAttention(c.T, c.reduction_t, None, c.use_max) if "T" in letters else None
        return SpikingLayer(op, LIF(**self._lif_kwargs()), ta)

    @property
    def layers(self) -> list[SpikingLayer]:
        return [*self.conv_layers, *self.fc_layers]

    @property
    def d_th(self) -> float | None:
        return None if self.gate is None else self.gate.d_th

    @d_th.setter
    def d_th(self, value: float | None) -> None:
        """Set or clear the frame-dropping threshold (needs the input attention)."""
        if self.gate is None:
            raise ValueError("frame dropping needs input_attention=True")
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"d_th must be in [0, 1], got {value}")
        self.gate.d_th = value
        self.config = replace(self.config, d_th=value)

    def frame_scores(self, x: torch.Tensor) -> torch.Tensor:
        """The input attention's score ``σ(.)`` per frame, ``[T, B]`` (what ``d_th`` is compared with)."""
        if self.gate is None:
            raise ValueError("frame scores need input_attention=True")
        return self.gate.weights(x)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Rates ``[B, classes]``; ``keep`` (bool ``[T, B]``) forces which frames run, in place of the
        input attention's choice: the input attention is then not applied and kept frames pass as
        given (weight 1, as when dropping by ``d_th``; multiply ``x`` by :meth:`frame_scores` first for
        the soft weights of training). For dropping a fixed fraction, or at random (the paper's IRP)."""
        c = self.config
        if x.dim() != 5 or x.shape[0] != c.T or x.shape[2:] != (c.in_channels, c.size, c.size):
            raise ValueError(
                f"expected [T={c.T}, B, {c.in_channels}, {c.size}, {c.size}], got {tuple(x.shape)}"
            )
        reset_net(self)
        if keep is not None:
            if keep.shape != x.shape[:2] or keep.dtype != torch.bool:
                raise ValueError(f"keep must be a bool tensor of shape {tuple(x.shape[:2])}")
        elif self.gate is not None:
            x, mask = self.gate(x, return_mask=True)
            if self.gate.dropping:
                keep = mask
        self.last_keep = (
            keep if keep is not None else torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        )
        for layer in self.conv_layers:
            x = layer(x, keep)
        x = x.flatten(2)
        for layer in self.fc_layers:
            x = layer(x, keep)
        return x.mean(0)
