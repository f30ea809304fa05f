"""One trainer for every task: single process or ``torchrun`` DDP, atomic checkpoints, exact resume."""

from .config import TrainConfig
from .task import TrainTask
from .trainer import Trainer, TrainingError, evaluate

__all__ = ["TrainConfig", "TrainTask", "Trainer", "TrainingError", "evaluate"]
