"""Counting and reporting the training videos skipped for lacking an audio track.

A :class:`~foleyzoo.data.datasets.ClipDataset` built with ``skip_missing_audio`` replaces such a video by
the next clip and lists it under the batch's ``"skipped"`` key; the data module moves that list into a
:class:`SkippedMedia` log as each batch reaches the main process (loader workers cannot share a
counter), and :class:`SkippedMediaReport` reports the epoch's count and files at the end of the epoch:
a warning, a logged metric ``data/skipped_<split>``, and :attr:`SkippedMediaReport.history`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

SPLIT_WORDS = {"train": "training", "validate": "validation"}
"""How a report names the split of the skipped videos."""

LISTED = 5
"""Paths a report lists before it says how many more there are."""


def split_of(trainer: Trainer | None) -> str:
    """The split a batch belongs to: "train" while training, else "validate" (sanity checks included)."""
    if trainer is not None and trainer.training:
        return "train"
    return "validate"


@dataclass
class SkippedMedia:
    """Files skipped since the last report, per split (kept in the main process)."""

    paths: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, split: str, paths: list[str]) -> None:
        """Count ``paths`` as skipped in ``split``."""
        self.paths[split].extend(paths)

    def take(self, split: str) -> list[str]:
        """The files skipped in ``split`` since the last call, which starts a new count."""
        return self.paths.pop(split, [])


def describe(epoch: int, split: str, total: int, paths: list[str]) -> str:
    """One line for the log: how many videos were skipped in the epoch, and which (the first few)."""
    shown = ", ".join(paths[:LISTED])
    more = f" and {len(paths) - LISTED} more" if len(paths) > LISTED else ""
    return (
        f"epoch {epoch}: skipped {total} {SPLIT_WORDS.get(split, split)} video(s) without an audio track, "
        f"each replaced by the next clip: {shown}{more}"
    )


class SkippedMediaReport(Callback):
    """Reports, at the end of each training and validation epoch, the videos skipped for lacking audio.

    It reads the ``skipped_media`` log of the trainer's data module (a
    :class:`~foleyzoo.data.datamodules.ClipDataModule` adds this callback itself). Counts are summed
    over all processes; the listed files are those this process saw.
    """

    def __init__(self) -> None:
        self.history: list[tuple[int, str, int, list[str]]] = []
        """(epoch, split, count over all processes, files seen here) for every epoch that skipped any."""

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.report(trainer, pl_module, "train")

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.report(trainer, pl_module, "validate", log_metric=not trainer.sanity_checking)

    def report(
        self, trainer: Trainer, pl_module: LightningModule, split: str, log_metric: bool = True
    ) -> None:
        """Warn about (and log the count of) the files skipped in ``split`` since the last report."""
        log = getattr(trainer.datamodule, "skipped_media", None)
        paths = log.take(split) if isinstance(log, SkippedMedia) else []
        count = torch.tensor(float(len(paths)), device=pl_module.device)
        total = int(trainer.strategy.reduce(count, reduce_op="sum").item())  # every rank takes part
        if total == 0:
            return
        self.history.append((trainer.current_epoch, split, total, paths))
        rank_zero_warn(describe(trainer.current_epoch, split, total, paths))
        if log_metric:
            pl_module.log(f"data/skipped_{split}", float(total), on_epoch=True, sync_dist=False)
