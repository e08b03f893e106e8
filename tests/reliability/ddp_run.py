"""Train kling-tiny (small width) from its recipe and record, per rank, what each step saw and did.

Run as a script: ``python ddp_run.py FOLDER DEVICES BATCH_SIZE STEPS``. FOLDER holds the earlier stages'
checkpoints where the recipe names them; the records go to ``FOLDER/records/rank<r>.json``. Lightning's
DDP launcher starts the other ranks by running this script again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.stage_checkpoints import SMALL_FLOW  # noqa: E402

from foleyzoo.training.cli import FoleyCLI  # noqa: E402


class StepRecorder(Callback):
    """Per step: the clip ids of the batch, the local loss and a checksum of the (reduced) gradients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.steps: list[dict[str, Any]] = []

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.steps.append({"epoch": trainer.current_epoch, "ids": list(batch["ids"])})

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        grads = [p.grad.double().sum() for p in pl_module.parameters() if p.grad is not None]
        self.steps[-1]["grad_checksum"] = float(torch.stack(grads).sum())

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.steps[-1]["loss"] = float(loss)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        weights = sum(float(p.detach().double().sum()) for p in pl_module.parameters())
        record = {"world_size": trainer.world_size, "steps": self.steps, "weight_checksum": weights}
        (self.folder / "records").mkdir(exist_ok=True)
        (self.folder / "records" / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


def main() -> None:
    folder, devices, batch_size, steps = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    os.chdir(folder)
    small = [
        arg for arg in SMALL_FLOW if not arg.startswith(("--trainer.max_steps", "--data.init_args.num_train"))
    ]
    small = [arg for arg in small if not arg.startswith("--data.init_args.batch_size")]
    cli = FoleyCLI(
        args=[
            "--config",
            str(REPO / "recipes" / "kling-tiny.yaml"),
            *small,
            f"--trainer.max_steps={steps}",
            f"--model.init_args.scheduler.init_args.total_steps={steps}",  # the one-cycle schedule in `steps`
            "--model.init_args.scheduler.init_args.max_lr=0.005",
            f"--trainer.devices={devices}",
            "--trainer.strategy=" + ("ddp" if devices > 1 else "auto"),
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.callbacks=[]",
            "--data.init_args.num_train=16",
            f"--data.init_args.batch_size={batch_size}",
        ],
        run=False,
    )
    cli.trainer.callbacks.append(StepRecorder(folder))
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)


if __name__ == "__main__":
    main()
