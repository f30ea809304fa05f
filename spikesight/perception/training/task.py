"""What a task gives the shared trainer: a model, datasets, a loss, an evaluation and a manifest.

Detection, depth and gesture each implement :class:`TrainTask`; :class:`~.trainer.Trainer`
does everything else (devices, DDP, optimiser, schedule, checkpoints, logs, plots), so the
three tasks train, resume and evaluate the same way.

Determinism contract (what makes resume exact): a dataset's item ``i`` is a pure function of
``i`` and of the epoch the trainer announces through ``set_epoch(epoch)`` (if the dataset has
it); random augmentation draws from a generator seeded by ``(seed, epoch, i)``, never from the
global RNG.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils.data import Dataset


@runtime_checkable
class TrainTask(Protocol):
    """One trainable task.

    ``name``: ``"detect"``, ``"depth"`` or ``"gesture"``. ``metric``: the key of
    :meth:`evaluate`'s result that picks the best checkpoint; ``metric_mode``: ``"max"``
    or ``"min"``.
    """

    name: str
    metric: str
    metric_mode: str

    def build_model(self) -> nn.Module:
        """A fresh, randomly initialised model (the trainer seeds torch before calling it)."""
        ...

    def datasets(self) -> tuple[Dataset, Dataset]:
        """``(train, val)``; val feeds :meth:`evaluate` after each epoch."""
        ...

    def collate(self, batch: list[Any]) -> Any:
        """Stack a list of dataset items into a batch (``default_collate`` where that fits)."""
        ...

    def to_device(self, batch: Any, device: torch.device) -> Any:
        """Move a batch to ``device``."""
        ...

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Forward one batch (resetting the network's state first) and return the scalar loss to
        back-propagate and its named parts for the log."""
        ...

    def evaluate(self, model: nn.Module, batches: Iterable[Any], device: torch.device) -> dict[str, float]:
        """Metrics over the whole validation set (``batches`` are collated, not yet on ``device``);
        called on one process with the model in eval mode under ``torch.no_grad``."""
        ...

    def manifest(self) -> dict[str, Any]:
        """What a user of the weights must know to run them: config, classes, representation,
        window, T, and the data they were trained on. JSON-serialisable."""
        ...
