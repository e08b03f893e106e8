"""The cases on which SynchformerDeSync is proven equal to av-benchmark's code: seeds, clips, frames.

Shared by ``scripts/compare_avbench_synchformer.py`` (which runs av-benchmark's own classes and records
the golden) and the test (which regenerates everything from these seeds), so both sides see the same
weights and the same files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch import Tensor

from foleyzoo.zoo.testing import seeded_generator

__all__ = [
    "AUDIO_CLIPS",
    "FULL_DURATION",
    "INPUTS_SEED",
    "SHORT_DURATION",
    "VIDEO_FRAMES",
    "WEIGHTS_SEED",
    "AudioClip",
    "clip_samples",
    "parity_frames",
    "parity_visual_features",
    "read_sync_audio",
    "sync_audio_items",
    "weights_fingerprint",
    "write_clips",
]

WEIGHTS_SEED, INPUTS_SEED = 29, 5
SHORT_DURATION = 4.8
"""The golden's main duration: 14 segments, so the first and the last 14 are one window (cheap on a CPU)."""
FULL_DURATION = 8.0
"""av-benchmark's default: 24 segments, two different windows."""


@dataclass(frozen=True)
class AudioClip:
    """One synthetic wav file: its stem, rate, channels, length (s) and DC offset."""

    stem: str
    sample_rate: int
    channels: int
    seconds: float
    dc: float = 0.0


AUDIO_CLIPS = (
    AudioClip("a_dc_16k", 16000, 1, 5.0, dc=0.25),
    AudioClip("b_stereo_44k", 44100, 2, 7.0),
    AudioClip("c_short_48k", 48000, 1, 3.0),
    AudioClip("d_long_48k", 48000, 1, 10.0, dc=-0.1),
)
"""Sorted by stem, as av-benchmark lists them. ``c_short_48k`` is shorter than either duration, and at
8 s so are ``a`` and ``b``: av-benchmark's loader then returns the next file (see the docs)."""

VIDEO_FRAMES = ((24, 96, 128), (3, 120, 90))
"""(frames, height, width) of the synthetic uint8 videos: a landscape clip of two segments (features
compared) and a short portrait one (preprocessing compared)."""


def clip_samples(clip: AudioClip, seed: int = INPUTS_SEED) -> np.ndarray:
    """(N, C) float32 samples of ``clip``: tones with a random walk of pitch, noise and the DC offset."""
    generator = seeded_generator(seed, clip.stem)
    count = round(clip.seconds * clip.sample_rate)
    t = torch.arange(count, dtype=torch.float64) / clip.sample_rate
    channels = []
    for _ in range(clip.channels):
        base = 200.0 + 2000.0 * float(torch.rand((), generator=generator))
        tone = torch.sin(2 * math.pi * base * t * (1.0 + 0.1 * torch.sin(2 * math.pi * 0.7 * t)))
        bursts = (torch.sin(2 * math.pi * 1.5 * t) > 0.3).double()
        noise = torch.randn(count, generator=generator, dtype=torch.float64)
        channels.append(0.3 * tone * bursts + 0.05 * noise + clip.dc)
    return torch.stack(channels, dim=1).clamp(-0.99, 0.99).numpy().astype(np.float32)


def write_clips(folder: Path, seed: int = INPUTS_SEED) -> list[Path]:
    """Write every clip of :data:`AUDIO_CLIPS` as 16-bit PCM wav into ``folder``; the paths, sorted by stem."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for clip in AUDIO_CLIPS:
        path = folder / f"{clip.stem}.wav"
        soundfile.write(str(path), clip_samples(clip, seed), clip.sample_rate, subtype="PCM_16")
        paths.append(path)
    return sorted(paths, key=lambda p: p.stem)


def parity_frames(index: int, seed: int = INPUTS_SEED) -> Tensor:
    """uint8 frames (T, 3, H, W) of video ``index`` of :data:`VIDEO_FRAMES`, as a decoder returns them:
    smooth random colour fields moving from frame to frame, plus noise."""
    frames, height, width = VIDEO_FRAMES[index]
    generator = seeded_generator(seed, f"video{index}")
    coarse = torch.rand(frames, 3, height // 8 + 2, width // 8 + 2, generator=generator)
    smooth = torch.nn.functional.interpolate(
        coarse, size=(height, width), mode="bilinear", align_corners=False
    )
    noise = 0.1 * torch.rand(frames, 3, height, width, generator=generator)
    return ((smooth * 0.9 + noise) * 255).round().clamp(0, 255).to(torch.uint8)


def parity_visual_features(batch: int, segments: int, seed: int = INPUTS_SEED) -> Tensor:
    """Visual features (batch, segments, 8, 768) drawn from N(0, 1): what the offset classifier is given
    next to the recorded audio (full visual passes of 14 or 24 segments are too slow for the test)."""
    return torch.randn(batch, segments, 8, 768, generator=seeded_generator(seed, f"visual{batch}x{segments}"))


def weights_fingerprint(state: dict[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


def read_sync_audio(path: Path, duration: float) -> Tensor | None:
    """One file as av-benchmark's Synchformer loader reads it: channel mean, no DC removal, windowed-sinc
    resampling to 16 kHz, the first ``int(16000 · duration)`` samples; None when the file is shorter."""
    from foleyzoo.data.audio import resample

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(samples).mean(dim=1)
    audio = resample(mono, rate, 16000)
    length = int(16000 * duration)
    return audio[:length] if audio.shape[-1] >= length else None


def sync_audio_items(paths: list[Path], duration: float) -> list[tuple[str, Tensor]]:
    """av-benchmark's ``SynchformerAudioDataset`` item by item: for item i, the first file from i on (wrapping
    around) long enough, under that file's own stem, so a short file's item repeats the next long one."""
    items = []
    for index in range(len(paths)):
        for step in range(len(paths)):
            path = paths[(index + step) % len(paths)]
            audio = read_sync_audio(path, duration)
            if audio is not None:
                items.append((path.stem, audio))
                break
        else:
            raise ValueError(f"no file is {duration} s long: av-benchmark's loader would loop for ever")
    return items
