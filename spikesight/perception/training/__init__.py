"""One trainer for every task: single process or ``torchrun`` DDP, atomic checkpoints, exact resume.

Names load on first use: the CLI imports this package without importing torch."""

from ...lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "TrainTask": "task",
    **dict.fromkeys(("Trainer", "TrainingError", "evaluate"), "trainer"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
