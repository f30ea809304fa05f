"""The trainer's settings: one frozen dataclass, stored in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the task says what).

    ``out``: the run folder (checkpoints, log, curves, exported weights); ``batch_size`` is per
    process; ``lr`` peaks after ``warmup_epochs`` of linear warm-up and decays by a cosine to
    ``lr * final_lr_ratio`` at the last step; ``checkpoint_every`` also saves ``last.pt`` every
    that many steps inside an epoch (0: at epoch ends only), so a killed run loses little;
    ``device``: ``"auto"`` picks CUDA when present; ``init``: weights (``.pt`` with its manifest)
    to start from instead of a random model (fine-tuning, or going on at another input size).
    """

    out: Path = Path("runs/train")
    epochs: int = 10
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.5
    final_lr_ratio: float = 0.01
    grad_clip: float = 10.0
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 200
    max_steps_per_epoch: int = 0
    threads: int = 0
    name: str = ""
    init: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        for field in ("epochs", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for field in ("workers", "checkpoint_every", "max_steps_per_epoch", "threads"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
