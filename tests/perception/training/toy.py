"""A tiny spiking regression task for the trainer's tests: fast, deterministic, with augmentation."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from spikesight.perception.snn.base import reset_net
from spikesight.perception.snn.neurons import LIF

T, F = 3, 6


class ToyData(Dataset):
    """``n`` fixed samples; item ``i`` gets noise drawn from ``(seed, epoch, i)`` (the trainer's contract)."""

    def __init__(self, n: int, seed: int) -> None:
        self.x = np.random.default_rng(seed).normal(size=(n, T, F)).astype(np.float32)
        w = np.random.default_rng(0).normal(size=(F,)).astype(np.float32)
        self.y = (self.x.mean(1) @ w > 0).astype(np.float32)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = np.random.default_rng((self.seed, self.epoch, i)).normal(scale=0.05, size=(T, F))
        return torch.from_numpy(self.x[i] + noise.astype(np.float32)), torch.tensor(self.y[i])


class ToyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(F, 64)
        self.lif = LIF()
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.lif(self.fc1(x)))).mean(0).squeeze(-1)


class ToyTask:
    name = "toy"
    metric = "accuracy"
    metric_mode = "max"

    def __init__(self, n_train: int = 64, n_val: int = 32, data_seed: int = 1,
                 bad_loss: bool = False) -> None:
        self.n_train, self.n_val, self.data_seed, self.bad_loss = n_train, n_val, data_seed, bad_loss

    def build_model(self) -> nn.Module:
        return ToyNet()

    def datasets(self) -> tuple[Dataset, Dataset]:
        return ToyData(self.n_train, self.data_seed), ToyData(self.n_val, self.data_seed + 1)

    def collate(self, batch):
        xs, ys = zip(*batch, strict=True)
        return torch.stack(xs, 1), torch.stack(ys)

    def to_device(self, batch, device):
        return tuple(b.to(device) for b in batch)

    def loss(self, model, batch):
        reset_net(model)
        x, y = batch
        out = model(x)
        loss = nn.functional.binary_cross_entropy_with_logits(out, y)
        if self.bad_loss:
            loss = loss * float("nan")
        return loss, {"bce": float(loss.detach())}

    def evaluate(self, model, batches, device):
        right = n = 0
        for x, y in batches:
            reset_net(model)
            right += int(((model(x.to(device)) > 0).float() == y.to(device)).sum())
            n += len(y)
        return {"accuracy": right / n, "samples": n}

    def manifest(self):
        return {"config": {"hidden": 64}, "data": "toy"}

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--n-train", type=int, default=64)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ToyTask:
        return cls(n_train=args.n_train)

    @classmethod
    def from_manifest(cls, manifest: dict, data: Path, split: str) -> ToyTask:
        return cls()
