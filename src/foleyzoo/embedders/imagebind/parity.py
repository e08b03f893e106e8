"""The cases on which foleyzoo's ImageBind is proven equal to av-benchmark's: weights, audio files, frames.

Shared by ``scripts/compare_avbench_imagebind.py`` (which runs av-benchmark's own code on them) and the
test (which compares with what that script recorded), so both build the same inputs from the same seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from foleyzoo.zoo.testing import seeded_generator

__all__ = [
    "AUDIO_CLIPS",
    "INPUTS_SEED",
    "VIDEO_CLIPS",
    "WEIGHTS_SEED",
    "AudioClip",
    "VideoClip",
    "clip_frames",
    "clip_samples",
    "fingerprint",
    "specs_json",
    "write_wav",
]

WEIGHTS_SEED, INPUTS_SEED = 31, 7


@dataclass(frozen=True)
class AudioClip:
    """A synthetic audio file: rate, channels, length, and a constant offset added to every sample."""

    name: str
    sample_rate: int
    channels: int
    seconds: float
    dc: float


@dataclass(frozen=True)
class VideoClip:
    """Synthetic 0.5 fps frames: count and size (portrait, landscape, odd sizes move the crops)."""

    name: str
    frames: int
    height: int
    width: int


AUDIO_CLIPS = (
    AudioClip("dc_16k_mono_7s", 16000, 1, 7.0, 0.25),
    AudioClip("stereo_44k_10s", 44100, 2, 10.0, 0.0),
    AudioClip("stereo_48k_3s_dc", 48000, 2, 3.0, -0.1),  # clips overlap: the in-place mean removal matters
    AudioClip("mono_48k_1500ms", 48000, 1, 1.5, 0.0),  # shorter than a clip: three padded copies
)
VIDEO_CLIPS = (
    VideoClip("landscape_4s", 2, 240, 320),
    VideoClip("portrait_4s", 2, 330, 250),
    VideoClip("odd_4s", 2, 225, 401),
)
FULL_VIDEO = VideoClip("landscape_8s", 4, 270, 480)
"""av-benchmark's default 8 s (4 frames, 3 clips × 3 crops): only ``compare`` runs it (slow on a CPU)."""


def clip_samples(clip: AudioClip, seed: int = INPUTS_SEED) -> np.ndarray:
    """(N, C) float32: noise, a chirp and bursts, quantised to 16 bits as the wav file will hold them."""
    generator = seeded_generator(seed, clip.name)
    count = round(clip.seconds * clip.sample_rate)
    t = torch.arange(count, dtype=torch.float64) / clip.sample_rate
    channels = []
    for channel in range(clip.channels):
        noise = 0.1 * torch.randn(count, generator=generator, dtype=torch.float64)
        chirp = 0.3 * torch.sin(2 * math.pi * (200 + 150 * channel) * t * (1 + t))
        bursts = (
            (torch.sin(2 * math.pi * 0.7 * t) > 0.5).double()
            * 0.2
            * torch.randn(count, generator=generator, dtype=torch.float64)
        )
        channels.append(noise + chirp + bursts + clip.dc)
    samples = torch.stack(channels, dim=1).clamp(-1.0, 32767 / 32768)
    return (torch.round(samples * 32768) / 32768).float().numpy()


def write_wav(clip: AudioClip, folder: Path, seed: int = INPUTS_SEED) -> Path:
    """The clip as a 16-bit PCM wav file named after it in ``folder``."""
    import soundfile

    path = folder / f"{clip.name}.wav"
    soundfile.write(str(path), clip_samples(clip, seed), clip.sample_rate, subtype="PCM_16")
    return path


def clip_frames(clip: VideoClip, seed: int = INPUTS_SEED) -> Tensor:
    """uint8 (T, H, W, 3): smooth random pictures (upsampled coarse noise) with fine noise on top."""
    generator = seeded_generator(seed, clip.name)
    coarse = torch.rand(clip.frames, 3, 9, 12, generator=generator)
    smooth = F.interpolate(coarse, size=(clip.height, clip.width), mode="bilinear", align_corners=False)
    fine = 0.08 * torch.randn(clip.frames, 3, clip.height, clip.width, generator=generator)
    pixels = ((smooth + fine).clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous()


def fingerprint(state: Mapping[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(float(state[key].abs().sum(dtype=torch.float64)) for key in sorted(state)))


def specs_json() -> dict[str, list[dict[str, object]]]:
    """The clip specifications, for the golden's metadata."""
    return {"audio": [asdict(clip) for clip in AUDIO_CLIPS], "video": [asdict(clip) for clip in VIDEO_CLIPS]}
