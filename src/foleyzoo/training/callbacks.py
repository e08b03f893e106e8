"""Training callbacks shared by recipes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities import rank_zero_warn

from foleyzoo.errors import FoleyzooError

__all__ = ["EpochLabelProgressBar", "NonFiniteGuard", "NonFiniteLossError", "SaveLastAtEnd", "TorchThreads"]


class TorchThreads(Callback):
    """Runs training with ``num_threads`` intra-op threads and restores the previous count afterwards.

    On a small CPU shared with a loader worker or other jobs, two spinning OpenMP threads per operation
    cost far more than they gain: the tiny recipe trains several times faster with one.
    """

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__()
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.num_threads = num_threads
        self._previous: int | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._previous is None:
            self._previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._previous is not None:
            torch.set_num_threads(self._previous)
            self._previous = None


class NonFiniteLossError(FoleyzooError):
    """Training met more non-finite losses or gradients in a row than it was told to tolerate."""


class NonFiniteGuard(Callback):
    """Skips an optimizer step whose loss or gradients are not finite, counts it, and stops the run
    with a message naming where it happened after ``max_consecutive`` such steps in a row.

    A skipped step leaves the weights and the optimizer's state untouched: the gradients are set to
    ``None``, which PyTorch's optimizers read as "no update for this parameter"; the step still counts
    in ``global_step``. Under fp16 loss scaling only non-finite losses count: the gradient scaler skips
    overflowing steps itself. ``foleyzoo fit`` adds the guard unless a recipe configures one itself.
    """

    def __init__(self, max_consecutive: int = 5) -> None:
        super().__init__()
        if max_consecutive < 1:
            raise ValueError(f"max_consecutive must be >= 1, got {max_consecutive}")
        self.max_consecutive = max_consecutive
        self.skipped = 0
        self.consecutive = 0
        self._loss_finite = True
        self._last_loss = float("nan")

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        self._loss_finite = self._loss_finite and finite
        if not finite:
            self._last_loss = float(loss.detach().float().mean())

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        loss_finite, self._loss_finite = self._loss_finite, True
        scaled = getattr(trainer.precision_plugin, "scaler", None) is not None
        # under fp16 loss scaling, overflowing gradients are routine: the scaler skips those steps itself
        bad_parameter = None if scaled else first_non_finite_gradient(pl_module, optimizer)
        if loss_finite and bad_parameter is None:
            self.consecutive = 0
            return
        if not scaled:
            optimizer.zero_grad(set_to_none=True)
        self.skipped += 1
        self.consecutive += 1
        where = (
            f"epoch {trainer.current_epoch}, global step {trainer.global_step}, "
            f"batch {trainer.fit_loop.epoch_loop.batch_idx}"
        )
        problem = f"loss {self._last_loss}" if not loss_finite else f"gradient of {bad_parameter}"
        rank_zero_warn(f"skipped an optimizer step at {where}: non-finite {problem}")
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f"training stopped: {self.consecutive} optimizer steps in a row had a non-finite loss or "
                f"gradient (the last at {where}: non-finite {problem}); {self.skipped} skipped in all. "
                "Lower the learning rate, clip gradients or check the data of these batches."
            )

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        pl_module.log("train/skipped_nonfinite", float(self.skipped), on_step=True, on_epoch=False)

    def state_dict(self) -> dict[str, int]:
        return {"skipped": self.skipped, "consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))
        self.consecutive = int(state_dict.get("consecutive", 0))


def first_non_finite_gradient(pl_module: LightningModule, optimizer: torch.optim.Optimizer) -> str | None:
    """The name of the first parameter of ``optimizer`` whose gradient holds a NaN or Inf, else ``None``.

    One device-to-host sync in the common all-finite case, however many parameters there are, and one
    multi-tensor kernel: each gradient's largest magnitude (a NaN or an Inf makes it non-finite, and a
    maximum cannot overflow as a sum of squares can).
    """
    parameters = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not parameters:
        return None
    flags = torch.isfinite(torch.stack(torch._foreach_norm([p.grad for p in parameters], math.inf)))
    if hasattr(flags, "full_tensor"):  # FSDP2's sharded gradients: every rank must see every shard's flag
        flags = flags.full_tensor()
    if bool(flags.all()):
        return None
    bad = parameters[int((~flags).nonzero()[0])]
    names = {id(parameter): name for name, parameter in pl_module.named_parameters()}
    return names.get(id(bad), f"a parameter of shape {tuple(bad.shape)}")


class SaveLastAtEnd(Callback):
    """Writes each ``ModelCheckpoint``'s ``last.ckpt`` again when training ends after its latest save.

    Lightning writes ``last`` only alongside another save, so a run whose ``max_steps`` falls between
    two validation epochs ends without its last steps on disk (kling-tiny lost its final 120 of 1400).
    ``foleyzoo fit`` adds this callback unless a recipe configures it itself.
    """

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        from lightning.pytorch.callbacks import ModelCheckpoint

        for checkpoint in trainer.checkpoint_callbacks:
            if (
                not isinstance(checkpoint, ModelCheckpoint)
                or not checkpoint.save_last
                or not checkpoint.dirpath
            ):
                continue
            last = Path(checkpoint.last_model_path) if checkpoint.last_model_path else None
            if last is None:
                last = (
                    Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
                )
            saved_step = getattr(checkpoint, "_last_global_step_saved", None)  # Lightning's own record
            if saved_step is None:
                saved_step = stored_step(last)
            if saved_step != trainer.global_step or not last.is_file():
                trainer.save_checkpoint(last, weights_only=checkpoint.save_weights_only)


class EpochLabelProgressBar(RichProgressBar):
    """Lightning's rich progress bar, labelled ``Epoch 137`` rather than ``Epoch 137/-2`` when no epoch
    limit is set: a run bounded by ``max_steps`` alone has ``max_epochs`` -1, which Lightning's bar shows
    as a last epoch of -2. ``foleyzoo fit`` uses it in place of Lightning's default bar."""

    def _get_train_description(self, current_epoch: int) -> str:
        max_epochs = self.trainer.max_epochs
        if max_epochs is not None and max_epochs >= 0:
            return super()._get_train_description(current_epoch)
        description = f"Epoch {current_epoch}"
        return f"{description:{len(self.validation_description)}}"  # as wide as "Validation": no flicker


def stored_step(path: Path) -> int | None:
    """The ``global_step`` a checkpoint file holds, or ``None`` when there is none to read."""
    if not path.is_file():
        return None
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True).get("global_step", -1))
    except Exception:
        return None
