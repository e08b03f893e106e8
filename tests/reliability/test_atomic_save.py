"""A kill in the middle of a checkpoint save leaves the previous checkpoint whole (AtomicCheckpointIO).

A child process trains the toy model, saving ``last.ckpt`` every step through a writer that stops half
way through its second save and waits to be killed. The parent kills it there with SIGKILL and loads
what is left. The same kill against a writer that writes straight into the target shows that the kill
really lands mid-write (what is left there does not load).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from foleyzoo.errors import ConfigError
from foleyzoo.io.atomic import atomic_write_bytes, remove_stale_temporaries, temporary_name
from foleyzoo.io.checkpoints import read_checkpoint
from foleyzoo.training.checkpoint_io import AtomicCheckpointIO

CHILD = r"""
import io, sys, time
from pathlib import Path
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset
from foleyzoo.training.checkpoint_io import AtomicCheckpointIO

folder, mode = Path(sys.argv[1]), sys.argv[2]

class Model(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(512, 512)  # about 1 MB of weights, 2 MB with Adam's state
    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

class StopHalfWay(AtomicCheckpointIO):
    saves = 0
    def write(self, handle, payload):
        StopHalfWay.saves += 1
        if StopHalfWay.saves < 2:
            return super().write(handle, payload)
        handle.write(payload[: len(payload) // 2])
        handle.flush()
        (folder / "half-written").touch()
        time.sleep(120)

class Direct(StopHalfWay):
    def save_checkpoint(self, checkpoint, path, storage_options=None):
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        with open(path, "wb") as handle:
            self.write(handle, buffer.getvalue())

writer = StopHalfWay() if mode == "atomic" else Direct()
trainer = Trainer(
    max_steps=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
    plugins=[writer],
    callbacks=[ModelCheckpoint(dirpath=folder, save_last=True, save_top_k=0, every_n_train_steps=1)],
)
data = DataLoader(TensorDataset(torch.randn(8, 512)), batch_size=2)
trainer.fit(Model(), data)
"""


def kill_during_second_save(folder: Path, mode: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), mode])
    try:
        deadline = time.monotonic() + 120
        while not (folder / "half-written").exists():
            assert child.poll() is None, f"the training child exited early with {child.returncode}"
            assert time.monotonic() < deadline, "the child never reached its second save"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("mode", ["atomic", "direct"])
def test_a_kill_during_a_save_keeps_the_last_checkpoint(tmp_path: Path, mode: str) -> None:
    kill_during_second_save(tmp_path, mode)
    last = tmp_path / "last.ckpt"
    if mode == "direct":  # the control: the kill landed mid-write, so a plain write leaves a broken file
        with pytest.raises(ConfigError, match="not a readable checkpoint"):
            read_checkpoint(last)
        return
    checkpoint = read_checkpoint(last)
    assert checkpoint["global_step"] == 1  # the first save, whole
    assert torch.isfinite(checkpoint["state_dict"]["layer.weight"]).all()
    leftovers = list(tmp_path.glob(".last.ckpt.tmp-*"))
    assert len(leftovers) == 1  # the killed writer's half file, hidden beside the target
    assert remove_stale_temporaries(last) == leftovers  # the next save clears it: its writer is dead
    assert not leftovers[0].exists()


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"first")

    def fail_half_way(handle, payload: bytes) -> None:
        handle.write(payload[:3])
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"second", fail_half_way)
    assert target.read_bytes() == b"first"
    assert list(target.parent.iterdir()) == [target]  # the failed writer's temporary file is gone
    assert temporary_name(target).parent == target.parent


def test_a_live_writers_temporary_file_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    mine = temporary_name(target)  # named with this (live) process's id
    mine.write_bytes(b"in progress")
    assert remove_stale_temporaries(target) == []
    assert mine.exists()


def test_fit_uses_the_atomic_writer_and_the_guard(tmp_path: Path) -> None:
    from foleyzoo.training.callbacks import NonFiniteGuard, SaveLastAtEnd
    from foleyzoo.training.cli import with_safety_defaults

    config = with_safety_defaults({"plugins": None, "callbacks": [], "enable_progress_bar": False})
    assert [type(p) for p in config["plugins"]] == [AtomicCheckpointIO]
    assert [type(c) for c in config["callbacks"]] == [NonFiniteGuard, SaveLastAtEnd]
    own_guard, own_io, own_saver = NonFiniteGuard(max_consecutive=2), AtomicCheckpointIO(), SaveLastAtEnd()
    kept = with_safety_defaults(
        {"plugins": [own_io], "callbacks": [own_guard, own_saver], "enable_progress_bar": False}
    )
    assert kept["plugins"] == [own_io] and kept["callbacks"] == [own_guard, own_saver]
