"""The cases on which foleyzoo's PaSST is proven equal to av-benchmark's: synthetic clips and their loading.

Shared by ``scripts/compare_avbench_passt.py`` (which lets av-benchmark's own dataset read the files) and
the test (which reads them the same way with :func:`load_like_avbench`), so both sides see identical
files. The clips cover what the loader must handle: a DC offset, stereo, 16 / 32 / 44.1 / 48 kHz, a
file shorter than the 8 s evaluation length (7 s, padded later to the 10 s window) and a longer one (10 s).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import Tensor

from foleyzoo.data.audio import resample

__all__ = ["CLIPS", "EVAL_SECONDS", "ClipSpec", "clip_samples", "load_like_avbench", "write_clips"]

EVAL_SECONDS = 8.0
"""av-benchmark's default ``audio_length``: every file is cut to its first 8 s (never padded) when loaded."""


@dataclass(frozen=True)
class ClipSpec:
    """One synthetic file: its stem, rate, channels, length in seconds and DC offset per channel."""

    name: str
    sample_rate: int
    channels: int
    seconds: float
    dc: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("a_mono16k_dc", 16000, 1, 7.0, (0.2,)),
    ClipSpec("b_stereo44k", 44100, 2, 10.0, (0.0, 0.0)),
    ClipSpec("c_stereo48k_dc", 48000, 2, 10.0, (-0.15, 0.05)),
    ClipSpec("d_mono32k", 32000, 1, 7.0, (0.0,)),
)


def clip_samples(spec: ClipSpec, seed: int) -> Tensor:
    """(channels, N) float32 in [-1, 1]: three enveloped tones and some noise per channel, plus the DC offset.

    Drawn from ``seed`` and the clip's name alone, so any subset of clips can be rebuilt on its own.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(spec.name.encode()))
    length = round(spec.seconds * spec.sample_rate)
    time = torch.arange(length, dtype=torch.float64) / spec.sample_rate
    channels = []
    for offset in spec.dc:
        freqs = 100.0 + 5900.0 * torch.rand(3, 1, generator=generator, dtype=torch.float64)
        phases = 2 * math.pi * torch.rand(3, 1, generator=generator, dtype=torch.float64)
        rates = 0.2 + 2.0 * torch.rand(3, 1, generator=generator, dtype=torch.float64)
        envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * rates * time + phases)
        tones = (0.15 * envelope * torch.sin(2 * math.pi * freqs * time + phases)).sum(dim=0)
        noise = 0.05 * torch.randn(length, generator=generator, dtype=torch.float64)
        channels.append(tones + noise + offset)
    return torch.stack(channels).clamp(-0.95, 0.95).float()


def write_clips(folder: Path, seed: int, specs: Sequence[ClipSpec] = CLIPS) -> list[Path]:
    """Write each clip as 16-bit PCM ``<name>.wav`` in ``folder``; the paths, in ``specs`` order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = folder / f"{spec.name}.wav"
        samples = clip_samples(spec, seed).numpy().T  # (N, channels)
        soundfile.write(str(path), np.ascontiguousarray(samples), spec.sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


def load_like_avbench(path: Path, sample_rate: int, seconds: float = EVAL_SECONDS) -> Tensor:
    """(1, M) audio as av-benchmark's ``AudioDataset`` reads a file: the channels' mean, that mean's own
    mean subtracted (over the whole file, before cutting), resampled to ``sample_rate`` (Hann-windowed
    sinc, torchaudio's defaults), cut to the first ``seconds``; shorter files are left short."""
    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples.T.copy()).mean(dim=0)
    mono = mono - mono.mean()
    mono = resample(mono, int(rate), sample_rate)
    return mono[: int(sample_rate * seconds)][None]
