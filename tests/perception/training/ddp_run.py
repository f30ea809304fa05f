"""Run by the DDP test under torchrun: train the toy task, save this rank's final weights."""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from spikesight.perception.training import TrainConfig, Trainer
from tests.perception.training.toy import ToyTask

if __name__ == "__main__":
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    trainer = Trainer(ToyTask(), TrainConfig(out=out, epochs=2, batch_size=4, lr=1e-2, device="cpu", seed=3),
                      progress=False)
    trainer.fit()
    torch.save(trainer.model.state_dict(), out / f"rank{os.environ['RANK']}.pt")
