"""NonFiniteGuard: a step with a NaN/Inf loss is skipped (weights and optimizer state untouched) and
counted; too many in a row stop training with a message that says where."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from tests.conftest import REPO_ROOT
from torch.utils.data import DataLoader, TensorDataset

from foleyzoo.training.callbacks import NonFiniteGuard, NonFiniteLossError
from foleyzoo.training.checkpoint_io import AtomicCheckpointIO


class Poisoned(LightningModule):
    """Regression whose loss is NaN on chosen batches."""

    def __init__(self, nan_batches: set[int]) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.nan_batches = nan_batches

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = (self.layer(x) - y).pow(2).mean()
        if batch_idx in self.nan_batches:
            loss = loss * float("nan")
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=0.05)


class WeightRecorder(Callback):
    def __init__(self) -> None:
        self.after_batch: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.after_batch.append(pl_module.layer.weight.detach().clone())


def fit(module: LightningModule, guard: NonFiniteGuard, batches: int = 8) -> WeightRecorder:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(batches * 4, 4), torch.randn(batches * 4, 1))
    recorder = WeightRecorder()
    trainer = Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[guard, recorder],
    )
    trainer.fit(module, DataLoader(data, batch_size=4))
    return recorder


def test_a_nan_loss_step_is_skipped_and_counted() -> None:
    guard = NonFiniteGuard(max_consecutive=3)
    recorder = fit(Poisoned(nan_batches={3, 5}), guard)
    weights = recorder.after_batch
    assert guard.skipped == 2 and guard.consecutive == 0
    assert torch.equal(weights[3], weights[2]) and torch.equal(weights[5], weights[4])  # skipped: untouched
    assert not torch.equal(weights[4], weights[3])  # the next finite step trains as usual
    assert all(torch.isfinite(w).all() for w in weights)


def test_without_the_guard_a_nan_loss_ruins_the_weights() -> None:
    torch.manual_seed(0)
    module = Poisoned(nan_batches={3})
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(module, DataLoader(data, batch_size=4))
    assert not torch.isfinite(module.layer.weight).all()


def test_too_many_in_a_row_stop_training_naming_where() -> None:
    guard = NonFiniteGuard(max_consecutive=3)
    with pytest.raises(NonFiniteLossError) as caught:
        fit(Poisoned(nan_batches={2, 3, 4, 5}), guard)
    message = str(caught.value)
    assert "3 optimizer steps in a row" in message
    # a skipped step still counts as a step (the optimizer was called, and did nothing)
    assert "global step 4" in message and "batch 4" in message and "loss nan" in message
    assert guard.skipped == 3


def test_a_non_finite_gradient_names_the_parameter() -> None:
    layer = torch.nn.Linear(2, 1)
    module = LightningModule()
    module.layer = layer
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    layer.weight.grad = torch.tensor([[1.0, math.inf]])
    layer.bias.grad = torch.zeros(1)
    from foleyzoo.training.callbacks import first_non_finite_gradient

    assert first_non_finite_gradient(module, optimizer) == "layer.weight"
    layer.weight.grad = torch.ones(1, 2)
    assert first_non_finite_gradient(module, optimizer) is None


def test_foleyzoo_fit_trains_with_the_guard_and_the_atomic_writer(tmp_path) -> None:
    from foleyzoo.training.cli import FoleyCLI

    cli = FoleyCLI(
        args=[
            "--config",
            str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml"),
            f"--trainer.default_root_dir={tmp_path}",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ],
        run=False,
    )
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert sum(isinstance(c, NonFiniteGuard) for c in cli.trainer.callbacks) == 1


@pytest.mark.parametrize("with_callback", [True, False])
def test_the_last_steps_reach_last_ckpt_when_training_ends_between_saves(tmp_path, with_callback) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    from foleyzoo.training.callbacks import SaveLastAtEnd

    torch.manual_seed(0)
    saver = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_epochs=2)  # 8 steps an epoch
    callbacks = [saver, SaveLastAtEnd()] if with_callback else [saver]
    trainer = Trainer(
        max_steps=21, logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks
    )
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    trainer.fit(Poisoned(nan_batches=set()), DataLoader(data, batch_size=4))
    stored = torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"]
    assert stored == (21 if with_callback else 16)  # without it, Lightning keeps the epoch-2 save
