"""LightningDataModules: real videos (folder or manifest), SynthFoley, and the feature cache.

Splits are deterministic (by a hash of each clip's id, or by seed); worker counts default to what a
small machine can feed (at most the cores less one, at most four).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from foleyzoo.data.cache import CacheDataset, ShardedCacheIterable, collate_features
from foleyzoo.data.clips import ClipFormat, ClipRef, collate_clips
from foleyzoo.data.datasets import ClipDataset, in_validation_split, read_manifest, scan_video_folder
from foleyzoo.data.skipped import SkippedMedia, SkippedMediaReport, split_of
from foleyzoo.io.frames import FrameReading


def default_workers() -> int:
    """Loader workers for this machine: cores less one (the trainer needs one), at most four."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def read_refs(source: str | Path, root: str | Path | None = None) -> list[ClipRef]:
    """A folder of videos or a CSV/TSV manifest → clip references."""
    source = Path(source)
    if source.suffix.lower() in (".csv", ".tsv", ".tab"):
        return read_manifest(source, root)
    return scan_video_folder(source)


class ClipDataModule(LightningDataModule):
    """Shared by the DataModules that decode clips: the format of items, batching and loaders.

    A video without an audio track is skipped (replaced by the next clip), counted, and reported at the
    end of the epoch by a :class:`~foleyzoo.data.skipped.SkippedMediaReport` that ``setup`` adds to the
    trainer; every other bad file stops the run with a :class:`~foleyzoo.errors.MediaError` naming it.
    """

    def __init__(
        self,
        visual_fps: float | None = 8.0,
        visual_size: tuple[int, int] = (224, 224),
        sync_fps: float | None = 24.0,
        sync_size: tuple[int, int] = (224, 224),
        sample_rate: int | None = 16000,
        channels: int = 1,
        crop_duration: float | None = 8.0,
        batch_size: int = 8,
        num_workers: int | None = None,
        frame_pick: str = "latest",
        frame_resize: str = "bilinear",
        visual_fit: str = "squash",
        sync_fit: str = "squash",
    ) -> None:
        super().__init__()
        FrameReading(frame_pick, frame_resize, visual_fit)  # a clear error for an unknown option, now
        FrameReading(frame_pick, frame_resize, sync_fit)
        self.fmt = ClipFormat(
            visual_fps,
            tuple(visual_size),
            sync_fps,
            tuple(sync_size),
            sample_rate,
            channels,
            frame_pick,
            frame_resize,
            visual_fit,
            sync_fit,
        )
        self.crop_duration = crop_duration
        self.batch_size = batch_size
        self.num_workers = default_workers() if num_workers is None else num_workers
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.skipped_media = SkippedMedia()

    def split_refs(self) -> tuple[list[ClipRef], list[ClipRef]]:
        """(train, validation) clip references; subclasses say where they come from."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        train, val = self.split_refs()
        self.train_set = ClipDataset(train, self.fmt, self.crop_duration, True, skip_missing_audio=True)
        self.val_set = ClipDataset(val, self.fmt, self.crop_duration, False, skip_missing_audio=True)
        self.attach_skip_report()

    def attach_skip_report(self) -> None:
        """Add a :class:`SkippedMediaReport` to the trainer's callbacks unless one is there already.

        The data module's ``setup`` runs before the callbacks' ``setup``, so the added callback takes
        part in the whole run like one given in the recipe.
        """
        trainer = self.trainer
        if trainer is not None and not any(isinstance(c, SkippedMediaReport) for c in trainer.callbacks):
            trainer.callbacks.append(SkippedMediaReport())

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Move the batch's list of skipped files (if any) into :attr:`skipped_media`, out of the model's way."""
        if isinstance(batch, dict) and "skipped" in batch:
            self.skipped_media.record(split_of(self.trainer), batch.pop("skipped"))
        return batch

    def extraction_datasets(self) -> dict[str, Dataset]:
        """Split name → dataset of whole clips (no random crops), for ``foleyzoo extract``."""
        train, val = self.split_refs()
        return {"train": ClipDataset(train, self.fmt), "val": ClipDataset(val, self.fmt)}

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        assert dataset is not None, "call setup() first"
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=functools.partial(collate_clips, fmt=self.fmt),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)


class VideoDataModule(ClipDataModule):
    """Real videos with their own audio: ``train`` is a folder (captions from sidecars) or a manifest.

    Validation clips come from ``val`` if given, else ``val_percent`` % of ``train`` chosen by id hash.
    """

    def __init__(
        self,
        train: str,
        val: str | None = None,
        root: str | None = None,
        val_percent: float = 5.0,
        **clip_options,
    ) -> None:
        super().__init__(**clip_options)
        self.train_source, self.val_source, self.root, self.val_percent = train, val, root, val_percent

    def split_refs(self) -> tuple[list[ClipRef], list[ClipRef]]:
        refs = read_refs(self.train_source, self.root)
        if self.val_source is not None:
            return refs, read_refs(self.val_source, self.root)
        val = [r for r in refs if in_validation_split(r.id, self.val_percent)]
        return [r for r in refs if not in_validation_split(r.id, self.val_percent)], val


class CacheDataModule(LightningDataModule):
    """Training from a feature cache written by ``foleyzoo extract`` (``ROOT/train`` and ``ROOT/val``).

    Each DDP rank streams its own shards (:class:`ShardedCacheIterable`); Lightning leaves iterable
    datasets alone, so no DistributedSampler is involved.
    """

    def __init__(
        self, root: str, batch_size: int = 16, num_workers: int | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.batch_size, self.seed = batch_size, seed
        self.num_workers = default_workers() if num_workers is None else num_workers

    def setup(self, stage: str | None = None) -> None:
        self.train_cache = CacheDataset(self.root / "train")
        self.val_cache = CacheDataset(self.root / "val")

    def _loader(self, cache: CacheDataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            ShardedCacheIterable(cache, shuffle=shuffle, seed=self.seed),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=functools.partial(collate_features, rates=cache.rates),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_cache, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_cache, shuffle=False)
