"""SynthFoley clips served to PyTorch in memory: a fixed-size map-style dataset and an endless stream.

Item ``i`` of seed ``s`` is the clip generated from the seed sequence ``(s, i)``, the same clip that
``foleyzoo synth make --seed s`` writes as ``clip_<i>``; it does not depend on which worker makes
it, nor on the order items are asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from foleyzoo.synthfoley.generator import DURATION, SILENT_PROBABILITY, generate_clip

if TYPE_CHECKING:
    from foleyzoo.synthfoley.variation import Variety

__all__ = ["SynthFoleyDataset", "SynthFoleyStream", "collate_items", "evenly_chosen", "make_item"]


def make_item(
    seed: int,
    index: int,
    duration: float = DURATION,
    clean: bool = False,
    variety: Variety | None = None,
    silent_probability: float = SILENT_PROBABILITY,
) -> dict[str, Any]:
    """Clip ``index`` of ``seed`` as an item dict.

    ``frames`` (T, 3, 64, 64) float32 in [0, 1], ``audio`` (2, N) float32 (the clean mix when
    ``clean``, else with the noise floor), ``caption`` str and ``meta`` (the sidecar JSON dict).
    With a ``variety`` the clip is drawn with every choice the spec leaves free varied and its frames
    passed through H.264 (:mod:`foleyzoo.synthfoley.variation`), as another conforming generator's mp4
    holds it. ``silent_probability`` (the spec's 0.3 by default) is the chance of a silent object when
    there is no ``variety`` (a variety carries its own).
    """
    if variety is not None:
        from foleyzoo.synthfoley.variation import generate_varied_clip

        clip, _ = generate_varied_clip((seed, index), duration, encode=True, variety=variety)
    else:
        clip = generate_clip((seed, index), duration, silent_probability)
    frames = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float().div_(255.0)
    audio = torch.from_numpy(clip.clean_audio if clean else clip.audio)
    return {"frames": frames, "audio": audio, "caption": clip.spec.caption, "meta": clip.spec.to_json()}


def evenly_chosen(index: int, fraction: float) -> bool:
    """Whether item ``index`` is among ``fraction`` of the items chosen evenly spread by index (the clean
    ones of a clean fraction, the varied ones of a mix), so the same items are chosen in every epoch and worker."""
    return int((index + 1) * fraction) > int(index * fraction)


class SynthFoleyDataset(Dataset):
    """``num_clips`` SynthFoley clips, generated on access (nothing is cached): item i = clip (seed, i).

    ``clean`` serves every clip's clean mix; ``clean_fraction`` that fraction of the clips (evenly spread
    by index), the rest with the noise floor, for models that must judge both kinds of sound alike.
    ``variety`` draws each clip as another conforming generator might (see :func:`make_item`);
    ``varied_fraction`` draws only that share of them so (evenly spread by index), the rest as foleyzoo
    draws them: a mix of both generators' habits.
    """

    def __init__(
        self,
        num_clips: int,
        seed: int = 0,
        duration: float = DURATION,
        clean: bool = False,
        clean_fraction: float = 0.0,
        variety: Variety | None = None,
        silent_probability: float = SILENT_PROBABILITY,
        varied_fraction: float = 1.0,
    ) -> None:
        if num_clips < 0:
            raise ValueError(f"num_clips must be >= 0, got {num_clips}")
        if not 0.0 <= clean_fraction <= 1.0:
            raise ValueError(f"clean_fraction must be in [0, 1], got {clean_fraction}")
        if clean and clean_fraction:
            raise ValueError("clean=True already serves every clip clean; leave clean_fraction at 0")
        if not 0.0 <= varied_fraction <= 1.0:
            raise ValueError(f"varied_fraction must be in [0, 1], got {varied_fraction}")
        self.varied_fraction = varied_fraction
        self.num_clips, self.seed, self.duration, self.clean = num_clips, seed, duration, clean
        self.clean_fraction, self.variety = clean_fraction, variety
        self.silent_probability = silent_probability

    def __len__(self) -> int:
        return self.num_clips

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self.num_clips <= index < self.num_clips:
            raise IndexError(f"clip {index} out of range for {self.num_clips} clips")
        index %= self.num_clips
        clean = self.clean or evenly_chosen(index, self.clean_fraction)
        variety = self.variety if evenly_chosen(index, self.varied_fraction) else None
        return make_item(self.seed, index, self.duration, clean, variety, self.silent_probability)


class SynthFoleyStream(IterableDataset):
    """An endless stream of SynthFoley clips 0, 1, 2, … of ``seed``, shared out among DataLoader workers.

    Worker w of W yields clips w, w + W, w + 2W, …; a DataLoader takes them from its workers in turn,
    so the stream is clip 0, 1, 2, … whatever the number of workers.
    """

    def __init__(self, seed: int = 0, duration: float = DURATION, clean: bool = False) -> None:
        self.seed, self.duration, self.clean = seed, duration, clean

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        index, step = (0, 1) if info is None else (info.id, info.num_workers)
        while True:
            yield make_item(self.seed, index, self.duration, self.clean)
            index += step


def collate_items(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of one duration: ``frames`` (B, T, 3, 64, 64), ``audio`` (B, 2, N), lists of the rest.

    PyTorch's default collate cannot batch ``meta`` (clips have different numbers of objects).
    """
    return {
        "frames": torch.stack([item["frames"] for item in items]),
        "audio": torch.stack([item["audio"] for item in items]),
        "caption": [item["caption"] for item in items],
        "meta": [item["meta"] for item in items],
    }
