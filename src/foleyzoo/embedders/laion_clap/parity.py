"""The cases on which foleyzoo's LAION-CLAP is proven equal to av-benchmark's: seed, clips, captions, loading.

Shared by ``tests/metrics/test_avbench_laion_clap.py`` and ``scripts/compare_avbench_laion_clap.py`` so
both feed the two implementations the same weights, wav files and captions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from foleyzoo.data.audio import resample

__all__ = ["CAPTIONS", "CLIPS", "SEED", "ClipSpec", "fingerprint", "load_like_avbench", "write_clips"]

SEED = 29
AUDIO_SECONDS = 8.0
"""av-benchmark's ``audio_length``: each file is cut (never padded) to this before CLAP."""


@dataclass(frozen=True)
class ClipSpec:
    """A synthetic wav file: its name, rate, channels, length (s) and DC offset."""

    name: str
    sample_rate: int
    channels: int
    seconds: float
    dc: float


CLIPS = (
    ClipSpec("a_16k_dc", 16_000, 1, 8.0, 0.25),
    ClipSpec("b_44k_stereo_10s", 44_100, 2, 10.0, 0.0),
    ClipSpec("c_48k_7s", 48_000, 1, 7.0, 0.0),
    ClipSpec("d_48k_stereo_3s_dc", 48_000, 2, 3.0, -0.1),
)
CAPTIONS = (
    "the sound of a cat meowing",
    "Café crowd — glasses clink, then a dog barks twice.",
    "A long caption that runs past seventy-seven tokens: rain on a tin roof, thunder far away, "
    "a door creaks open and footsteps cross a wooden floor.",
)


def _signal(spec: ClipSpec, index: int) -> np.ndarray:
    """(frames, channels) float32 in [−1, 1]: seeded noise plus a tone per channel, plus the DC offset."""
    rng = np.random.default_rng(SEED * 100 + index)
    frames = round(spec.seconds * spec.sample_rate)
    t = np.arange(frames) / spec.sample_rate
    tones = [0.3 * np.sin(2 * math.pi * (220.0 * (c + 1) + 50 * index) * t) for c in range(spec.channels)]
    noise = 0.15 * rng.standard_normal((frames, spec.channels))
    return np.clip(np.stack(tones, axis=1) + noise + spec.dc, -0.99, 0.99).astype(np.float32)


def write_clips(folder: Path) -> list[Path]:
    """The clips as 16-bit PCM wav files in ``folder`` (sorted by stem, as av-benchmark lists them)."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, spec in enumerate(CLIPS):
        path = folder / f"{spec.name}.wav"
        soundfile.write(str(path), _signal(spec, index), spec.sample_rate, subtype="PCM_16")
        paths.append(path)
    return sorted(paths, key=lambda p: p.stem)


def load_like_avbench(path: Path, rate: int = 48_000, seconds: float = AUDIO_SECONDS) -> Tensor:
    """(N,) float32: av-benchmark's ``AudioDataset`` read — channel mean, minus its mean, resampled, cut."""
    import soundfile

    data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(data.T.copy()).mean(dim=0)
    mono = mono - mono.mean()
    return resample(mono, file_rate, rate)[: int(rate * seconds)]


def fingerprint(state: dict[str, Tensor]) -> Tensor:
    """A float64 scalar: Σ over keys of Σ|value|, to tell recorded weights from regenerated ones."""
    return torch.tensor(
        math.fsum(float(state[key].double().abs().sum()) for key in sorted(state)), dtype=torch.float64
    )
