"""SynthFoley as training data: generated in memory (no files), or read from a `foleyzoo synth make` folder."""

from __future__ import annotations

import copy
import functools
import multiprocessing
import pickle
from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from foleyzoo.data.clips import ClipFormat, ClipRef
from foleyzoo.data.datamodules import ClipDataModule
from foleyzoo.data.datasets import ClipDataset, scan_video_folder
from foleyzoo.errors import ConfigError
from foleyzoo.synthfoley.generator import FPS, SAMPLE_RATE, SILENT_PROBABILITY
from foleyzoo.synthfoley.variation import Variety


def resample_frames(
    frames: torch.Tensor, source_fps: float, fps: float, size: tuple[int, int]
) -> torch.Tensor:
    """(T, 3, H, W) at ``source_fps`` → frames at ``fps`` (frame k shows t = k / fps) of ``size``."""
    count = max(1, round(frames.shape[0] * fps / source_fps))
    picks = torch.clamp(
        (torch.arange(count) * source_fps / fps + 1e-6).floor().long(), max=frames.shape[0] - 1
    )
    chosen = frames[picks]
    if tuple(chosen.shape[-2:]) != tuple(size):
        chosen = F.interpolate(chosen, size=size, mode="bilinear", align_corners=False)
    return chosen


class SynthFoleyClips(Dataset):
    """In-memory SynthFoley clips as foleyzoo items (see :mod:`foleyzoo.data.clips`), with ground truth in ``meta``."""

    def __init__(
        self,
        num_clips: int,
        seed: int,
        fmt: ClipFormat,
        duration: float = 4.0,
        cache: bool = False,
        clean: bool = False,
        clean_fraction: float = 0.0,
        variety: Variety | None = None,
        silent_probability: float = SILENT_PROBABILITY,
        varied_fraction: float = 1.0,
    ) -> None:
        from foleyzoo.synthfoley.dataset import SynthFoleyDataset

        if fmt.sample_rate not in (None, SAMPLE_RATE):
            raise ConfigError(
                f"in-memory SynthFoley audio is {SAMPLE_RATE} Hz, but sample_rate is {fmt.sample_rate}; "
                "write clips with `foleyzoo synth make` and pass folder= to have them resampled"
            )
        self.clips = SynthFoleyDataset(
            num_clips,
            seed=seed,
            duration=duration,
            clean=clean,
            clean_fraction=clean_fraction,
            variety=variety,
            silent_probability=silent_probability,
            varied_fraction=varied_fraction,
        )
        self.fmt = fmt
        self.cache: dict[int, dict[str, Any]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.cache is None:
            return self._make_item(index)
        if index not in self.cache:  # generated once, then kept (in each loader worker that asks for it)
            self.cache[index] = self._make_item(index)
        return self.cache[index]

    def draw_all(self, processes: int = 1) -> None:
        """Draw every clip not yet in the cache, with ``processes`` worker processes.

        The clips are the same whichever process draws them: each is seeded by its index. Two processes
        drew 512 of the quickstart's clips 1.13x as fast as one (encoding a varied clip's H.264 already
        takes a second core), and the clips they send back hold about 1.8 MB each where clips drawn
        in this process held 4.5 (docs/data.md). Workers are spawned: a script that calls this needs
        the ``if __name__ == "__main__":`` guard of :mod:`multiprocessing`.
        """
        if self.cache is None:
            raise ConfigError("draw_all fills the cache of clips built with cache=True")
        if processes < 1:
            raise ConfigError(f"draw_processes must be at least 1, got {processes}")
        missing = [index for index in range(len(self)) if index not in self.cache]
        if processes == 1 or len(missing) < 2:
            for index in missing:
                self.cache[index] = self._make_item(index)
            return
        uncached = copy.copy(self)
        uncached.cache = None  # what the workers receive: the settings, not the clips drawn so far
        draw = functools.partial(_drawn_as_bytes, uncached)
        with multiprocessing.get_context("spawn").Pool(processes, initializer=_one_thread) as pool:
            chunk = max(1, min(16, len(missing) // (4 * processes)))
            for index, data in zip(missing, pool.imap(draw, missing, chunk), strict=True):
                self.cache[index] = pickle.loads(data)

    def _make_item(self, index: int) -> dict[str, Any]:
        clip = self.clips[index]
        item: dict[str, Any] = {
            "id": f"clip_{index:05d}",  # the stem `foleyzoo synth make` gives clip index
            "caption": clip["caption"],
            "start": 0.0,
            "duration": clip["meta"]["duration"],
            "meta": clip["meta"],
        }
        if self.fmt.visual_fps is not None:
            item["visual"] = resample_frames(clip["frames"], FPS, self.fmt.visual_fps, self.fmt.visual_size)
        if self.fmt.sync_fps is not None:
            item["sync"] = resample_frames(clip["frames"], FPS, self.fmt.sync_fps, self.fmt.sync_size)
        if self.fmt.sample_rate is not None:
            audio = clip["audio"]
            item["audio"] = audio.mean(0, keepdim=True) if self.fmt.channels == 1 else audio
        return item


def _drawn_as_bytes(clips: SynthFoleyClips, index: int) -> bytes:
    """Clip ``index`` pickled by value: a tensor sent back as itself would travel as a shared-memory file
    descriptor, and thousands of clips would hold more descriptors open than a default limit allows."""
    return pickle.dumps(clips._make_item(index), protocol=pickle.HIGHEST_PROTOCOL)


def _one_thread() -> None:
    """A drawing worker uses one core: the processes, not their threads, share the machine."""
    torch.set_num_threads(1)


class SynthFoleyDataModule(ClipDataModule):
    """SynthFoley clips for training: ``num_train``/``num_val`` generated from ``seed``/``seed + 1``,
    or, with ``folder``, the clips of a ``foleyzoo synth make`` folder split by id hash.

    ``cache`` keeps generated items in memory (about 1.5 MB a 4 s clip at 32 × 32 px), so epochs after
    the first cost no generation (in-memory clips only; clips read from a folder are not cached).
    ``clean`` gives the sound without the noise floor (in-memory clips only): the target for a model that
    should generate the events alone. ``clean_fraction`` gives that fraction of the clips clean and the rest
    noisy (evenly spread by index): for a judge that must score clean and noisy sound alike. ``varied``
    draws every clip with the choices the spec leaves free varied (shapes, edges, colours, draws pushed to
    their bounds, H.264 quality; :mod:`foleyzoo.synthfoley.variation`), so that a model learns the spec
    rather than one generator's habits (in-memory clips only): ``bounds_share`` of the clips have their
    draws pushed to the ends of the spec's ranges (the rest uniform) and ``stop_share`` of the objects stop
    bouncing early. ``silent_probability`` is the chance that a training clip has a silent object (the
    spec's 0.3 by default; more teaches more often that a silent object's bounce makes no sound).
    ``draw_processes`` above 1 (with ``cache``) draws every training clip at set-up in that many processes
    instead of one by one in the first epoch (the clips are the same)."""

    def __init__(
        self,
        num_train: int = 512,
        num_val: int = 64,
        seed: int = 0,
        clip_duration: float = 4.0,
        folder: str | None = None,
        val_percent: float = 10.0,
        visual_size: tuple[int, int] = (64, 64),
        sync_size: tuple[int, int] = (64, 64),
        crop_duration: float | None = None,
        cache: bool = False,
        clean: bool = False,
        clean_fraction: float = 0.0,
        varied: bool = False,
        bounds_share: float = 0.5,
        stop_share: float = 0.25,
        silent_probability: float = SILENT_PROBABILITY,
        varied_fraction: float = 1.0,
        draw_processes: int = 1,
        **clip_options: Any,
    ) -> None:
        super().__init__(
            visual_size=visual_size, sync_size=sync_size, crop_duration=crop_duration, **clip_options
        )
        self.num_train, self.num_val, self.seed = num_train, num_val, seed
        self.clip_duration, self.folder, self.val_percent = clip_duration, folder, val_percent
        self.cache = cache
        self.clean, self.clean_fraction, self.varied = clean, clean_fraction, varied
        if not 0.0 <= silent_probability <= 1.0:
            raise ConfigError(f"silent_probability must be in [0, 1], got {silent_probability}")
        self.silent_probability = silent_probability
        self.variety = Variety(bounds_share, stop_share, silent_probability) if varied else None
        if clean and clean_fraction:
            raise ConfigError("clean: true already serves every clip clean; leave clean_fraction at 0")
        if not 0.0 <= clean_fraction <= 1.0:
            raise ConfigError(f"clean_fraction must be in [0, 1], got {clean_fraction}")
        if not 0.0 <= varied_fraction <= 1.0:
            raise ConfigError(f"varied_fraction must be in [0, 1], got {varied_fraction}")
        if varied_fraction != 1.0 and not varied:
            raise ConfigError("varied_fraction is the share of varied clips: set varied: true with it")
        self.varied_fraction = varied_fraction
        if draw_processes < 1:
            raise ConfigError(f"draw_processes must be at least 1, got {draw_processes}")
        if draw_processes > 1 and not cache:
            raise ConfigError("draw_processes draws the clips into the cache: set cache: true with it")
        self.draw_processes = draw_processes

    def split_refs(self) -> tuple[list[ClipRef], list[ClipRef]]:
        from foleyzoo.data.datasets import in_validation_split

        if self.folder is None:
            raise ConfigError("SynthFoleyDataModule generates clips in memory; clip references need folder=")
        refs = scan_video_folder(self.folder)
        val = [r for r in refs if in_validation_split(r.id, self.val_percent)]
        return [r for r in refs if not in_validation_split(r.id, self.val_percent)], val

    def setup(self, stage: str | None = None) -> None:
        if self.folder is not None and self.varied:
            raise ConfigError(
                f"{self.folder}: varied=true draws clips in memory; write varied clips with "
                "`foleyzoo synth make --varied` and leave varied out"
            )
        if self.folder is not None and (self.clean or self.clean_fraction):
            raise ConfigError(
                f"{self.folder}: clean=true and clean_fraction need in-memory clips; a `synth make` folder's "
                "videos carry the noisy mix (its clean sound is the optional <stem>.wav)"
            )
        if self.folder is not None:
            super().setup(stage)
            return
        self.train_set = SynthFoleyClips(
            self.num_train,
            self.seed,
            self.fmt,
            self.clip_duration,
            self.cache,
            self.clean,
            self.clean_fraction,
            self.variety,
            self.silent_probability,
            self.varied_fraction,
        )
        if self.draw_processes > 1:
            self.train_set.draw_all(self.draw_processes)
        self.val_set = SynthFoleyClips(
            self.num_val,
            self.seed + 1,
            self.fmt,
            self.clip_duration,
            self.cache,
            self.clean,
            self.clean_fraction,
            self.variety,
            self.silent_probability,
            self.varied_fraction,
        )

    def extraction_datasets(self) -> dict[str, Dataset]:
        if self.folder is not None:
            train, val = self.split_refs()
            return {"train": ClipDataset(train, self.fmt), "val": ClipDataset(val, self.fmt)}
        return {
            "train": SynthFoleyClips(
                self.num_train,
                self.seed,
                self.fmt,
                self.clip_duration,
                variety=self.variety,
                varied_fraction=self.varied_fraction,
            ),
            "val": SynthFoleyClips(
                self.num_val,
                self.seed + 1,
                self.fmt,
                self.clip_duration,
                variety=self.variety,
                varied_fraction=self.varied_fraction,
            ),
        }
