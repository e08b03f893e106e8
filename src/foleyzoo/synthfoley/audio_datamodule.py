"""Audio-only SynthFoley for codec training: the clips' sound without rendering their frames (fast on a CPU).

Clip ``i`` of ``seed`` is the sound of SynthFoley clip ``(seed, i)`` (the one ``foleyzoo synth make``
writes), mixed down to mono; ``clean_fraction`` of the clips (chosen by index, so always the same ones)
are the clean mix, the rest carry the noise floor. With a ``corpus_dir`` the real multi-domain corpus of
:mod:`foleyzoo.data.corpus` joins in: its ``train`` split in training, its ``eval`` split in
validation, cut into windows of the clip length. Batches match :func:`foleyzoo.data.clips.collate_clips`:
``{"audio": Waveform (B, 1, N), "audio_mask": (B, N)}``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from foleyzoo.api import Waveform
from foleyzoo.synthfoley.dataset import evenly_chosen
from foleyzoo.synthfoley.generator import SAMPLE_RATE, draw_scene, render_audio

__all__ = ["CorpusAudio", "SynthFoleyAudio", "SynthFoleyAudioDataModule", "collate_audio", "synth_audio"]

log = logging.getLogger(__name__)


def synth_audio(seed: int, index: int, duration: float, clean: bool) -> torch.Tensor:
    """Mono sound (1, N) of SynthFoley clip ``(seed, index)``: the clean mix or the one with the noise floor."""
    scene_seed, audio_seed = np.random.SeedSequence((seed, index)).spawn(2)
    spec = draw_scene(np.random.default_rng(scene_seed), duration)
    noisy, clean_mix = render_audio(spec, np.random.default_rng(audio_seed))
    audio = clean_mix if clean else noisy
    return torch.from_numpy(np.ascontiguousarray(audio.mean(axis=0, keepdims=True), dtype=np.float32))


class SynthFoleyAudio(Dataset):
    """``num_clips`` mono SynthFoley sounds; item i is ``{"audio": (1, N)}``, rendered once and kept."""

    def __init__(self, num_clips: int, seed: int, duration: float = 4.0, clean_fraction: float = 0.5) -> None:
        if not 0.0 <= clean_fraction <= 1.0:
            raise ValueError(f"clean_fraction must be in [0, 1], got {clean_fraction}")
        self.num_clips, self.seed, self.duration, self.clean_fraction = (
            num_clips,
            seed,
            duration,
            clean_fraction,
        )
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return self.num_clips

    def is_clean(self, index: int) -> bool:
        """Whether item ``index`` is a clean mix: evenly spread, ``clean_fraction`` of the items."""
        return evenly_chosen(index, self.clean_fraction)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index not in self._cache:  # rendered once, then kept (256 kB a 4 s clip)
            self._cache[index] = synth_audio(self.seed, index, self.duration, self.is_clean(index))
        return {"audio": self._cache[index]}


class CorpusAudio(Dataset):
    """Fixed-length mono windows (1, N) of one split of a corpus folder, ``repeats`` times over.

    Each file is cut into windows of ``duration`` seconds, half a window apart; the tail of a file and
    any file shorter than a window are zero-padded (pieces under a quarter second are left out). All
    audio is read once at ``sample_rate``.
    """

    def __init__(
        self, corpus_dir: str | Path, split: str, duration: float, sample_rate: int, repeats: int = 1
    ) -> None:
        from foleyzoo.data.corpus import read_corpus_manifest
        from foleyzoo.io.media import read_audio

        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")
        size, hop, shortest = (
            round(duration * sample_rate),
            round(duration * sample_rate / 2),
            sample_rate // 4,
        )
        self.windows: list[torch.Tensor] = []
        self.domains: list[str] = []
        for entry in read_corpus_manifest(corpus_dir, split):
            samples = read_audio(Path(corpus_dir) / entry.path, sample_rate, channels=1).float()
            for start in range(0, max(samples.shape[-1] - hop, 1), hop):
                window = samples[:, start : start + size]
                if window.shape[-1] < shortest:
                    continue
                self.windows.append(torch.nn.functional.pad(window, (0, size - window.shape[-1])))
                self.domains.append(entry.domain)
        if not self.windows:
            raise ValueError(f"{corpus_dir}: the corpus has no {split!r} audio")
        self.repeats = repeats

    def __len__(self) -> int:
        return len(self.windows) * self.repeats

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"audio": self.windows[index % len(self.windows)]}


def ensure_corpus(corpus_dir: str | Path, sample_rate: int) -> Path:
    """``corpus_dir``, built first from the Debian packages when it holds no manifest yet."""
    from foleyzoo.data.corpus import build_corpus

    folder = Path(corpus_dir)
    if not (folder / "manifest.csv").is_file():
        log.warning("building the multi-domain corpus in %s (once; about 20 s)", folder)
        build_corpus(folder, sample_rate)
    return folder


def collate_audio(items: list[dict[str, torch.Tensor]], sample_rate: int = SAMPLE_RATE) -> dict[str, object]:
    """Equal-length items → ``{"audio": Waveform (B, 1, N), "audio_mask": (B, N) all True}``."""
    samples = torch.stack([item["audio"] for item in items])
    mask = torch.ones(samples.shape[0], samples.shape[-1], dtype=torch.bool)
    return {"audio": Waveform(samples=samples, sample_rate=sample_rate), "audio_mask": mask}


class SynthFoleyAudioDataModule(LightningDataModule):
    """Mono SynthFoley sounds at 16 kHz: ``num_train`` from ``seed``, ``num_val`` held out from ``seed + 1``.

    ``corpus_dir`` adds the real corpus (built there on first use): its train windows ``corpus_repeats``
    times over to training, its eval windows to validation.
    """

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 32,
        seed: int = 0,
        clip_duration: float = 4.0,
        clean_fraction: float = 0.5,
        batch_size: int = 16,
        num_workers: int = 0,
        corpus_dir: str | None = None,
        corpus_repeats: int = 1,
    ) -> None:
        super().__init__()
        self.num_train, self.num_val, self.seed = num_train, num_val, seed
        self.clip_duration, self.clean_fraction = clip_duration, clean_fraction
        self.batch_size, self.num_workers = batch_size, num_workers
        self.corpus_dir, self.corpus_repeats = corpus_dir, corpus_repeats

    def setup(self, stage: str | None = None) -> None:
        train: Dataset = SynthFoleyAudio(self.num_train, self.seed, self.clip_duration, self.clean_fraction)
        val: Dataset = SynthFoleyAudio(self.num_val, self.seed + 1, self.clip_duration, self.clean_fraction)
        if self.corpus_dir is not None:
            folder = ensure_corpus(self.corpus_dir, SAMPLE_RATE)
            corpus = functools.partial(
                CorpusAudio, folder, duration=self.clip_duration, sample_rate=SAMPLE_RATE
            )
            train = ConcatDataset([train, corpus("train", repeats=self.corpus_repeats)])
            val = ConcatDataset([val, corpus("eval")])
        self.train_set, self.val_set = train, val

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=functools.partial(collate_audio, sample_rate=SAMPLE_RATE),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
