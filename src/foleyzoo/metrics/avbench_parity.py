"""Seeded inputs and weights for proving foleyzoo's av-benchmark metrics equal to av-benchmark's own code.

Both sides read the same synthetic wav files (:func:`write_parity_clips`) and load the same seeded random
weights written in the published containers (:func:`panns_state`, :func:`vggish_state`); no published
weights are needed. ``scripts/compare_avbench.py`` runs av-benchmark's code on them and records what it
gives; ``tests/metrics/test_avbench_parity.py`` regenerates everything and compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from foleyzoo.zoo.testing import random_state_dict

__all__ = [
    "GENERATED_CLIPS",
    "REFERENCE_CLIPS",
    "ParityClip",
    "panns_state",
    "vggish_state",
    "write_parity_clips",
]


@dataclass(frozen=True)
class ParityClip:
    """A synthetic file: its stem, rate, channels, seconds, DC offset and wav sample format."""

    stem: str
    rate: int
    channels: int
    seconds: float
    dc: float = 0.0
    subtype: str = "PCM_16"


REFERENCE_CLIPS: tuple[ParityClip, ...] = (
    ParityClip("clip_00", 16000, 1, 2.0, dc=0.2),
    ParityClip("clip_01", 44100, 2, 2.0),
    ParityClip("clip_02", 48000, 2, 2.5, subtype="FLOAT"),
    ParityClip("clip_03", 16000, 1, 7.0),
    ParityClip("clip_04", 48000, 1, 10.0, dc=-0.1),
    ParityClip("clip_05", 44100, 1, 2.0, subtype="PCM_24"),
    ParityClip("clip_06", 16000, 2, 2.0, dc=0.05),
    ParityClip("clip_07", 32000, 1, 2.0),
    ParityClip("zxpo56cpUBU_000007", 16000, 1, 2.0),
    ParityClip("clip_09", 22050, 2, 2.0),
)
"""The reference folder: 16 / 22.05 / 32 / 44.1 / 48 kHz, mono and stereo, DC offsets, 7 s and 10 s files."""

GENERATED_CLIPS: tuple[ParityClip, ...] = (
    *(ParityClip(clip.stem, 16000, 1, min(clip.seconds, 8.0)) for clip in REFERENCE_CLIPS[:8]),
    ParityClip("zxpo56cpUBU_000007-0", 44100, 2, 2.0, dc=0.1),
    ParityClip("clip_09", 16000, 2, 2.0),
    ParityClip("clip_10", 48000, 1, 2.0),
)
"""The generated folder: eleven clips (the Inception Score needs ten); ``zxpo56cpUBU_000007-0`` pairs with its
reference only through av-benchmark's name cleaning (not for KL-PANNs), ``clip_10`` with none."""


def _signal(clip: ParityClip, seed: int) -> np.ndarray:
    """(N, C) float32: noise bursts and decaying tones, different for each clip and channel, plus the offset."""
    rng = np.random.default_rng(seed)
    count = round(clip.rate * clip.seconds)
    t = np.arange(count) / clip.rate
    out = np.zeros((count, clip.channels))
    for channel in range(clip.channels):
        for _ in range(6):
            start = rng.uniform(0, clip.seconds)
            envelope = np.exp(-np.clip(t - start, 0, None) * rng.uniform(3, 20)) * (t >= start)
            tone = np.sin(2 * np.pi * rng.uniform(80, 6000) * t + rng.uniform(0, 6.3))
            noise = rng.standard_normal(count) * rng.uniform(0, 0.5)
            out[:, channel] += rng.uniform(0.05, 0.3) * envelope * (tone + noise)
        out[:, channel] += 0.01 * rng.standard_normal(count)
    return np.clip(out + clip.dc, -1, 1).astype(np.float32)


def write_parity_clips(folder: Path, clips: tuple[ParityClip, ...], seed: int) -> list[Path]:
    """Write each clip as ``<stem>.wav`` in ``folder``; the content of clip i is drawn from ``seed`` and i."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, clip in enumerate(clips):
        path = folder / f"{clip.stem}.wav"
        soundfile.write(path, _signal(clip, seed * 1000 + index), clip.rate, subtype=clip.subtype)
        paths.append(path)
    return paths


def _positive_variances(state: dict[str, Tensor], seed: int) -> dict[str, Tensor]:
    """Batch-norm running variances in [0.5, 1.5) (random ones can be negative) and integer step counters."""
    generator = torch.Generator().manual_seed(seed)
    for key in list(state):
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(state[key].shape, generator=generator)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0, dtype=torch.long)
    return state


def panns_state(seed: int) -> dict[str, Tensor]:
    """CNN14 (16 kHz) weights in the published layout, random but for the fixed STFT and mel matrices.

    Scaled so that clips stay distinguishable through twelve ReLU convolutions: He-gain convolutions,
    batch-norm scales near 1, the input batch norm's statistics those of log-mel decibels (mean −40,
    deviation ≈ 20), and logits spread enough that the softmax is not flat (KL and IS see differences).
    """
    from foleyzoo.embedders.panns import Cnn14

    fixed = Cnn14().state_dict()
    shapes = {key: list(value.shape) for key, value in fixed.items() if value.dtype.is_floating_point}
    state = _positive_variances(random_state_dict(shapes, seed), seed)
    generator = torch.Generator().manual_seed(seed + 1)
    for key, value in fixed.items():
        if (
            key.startswith(("spectrogram_extractor.", "logmel_extractor."))
            or not value.dtype.is_floating_point
        ):
            state[key] = value.clone()
        elif key.startswith("conv_block") and value.dim() == 4:
            state[key] = state[key] * math.sqrt(2.0)
        elif key.startswith(("bn0.", "conv_block")) and key.endswith(".weight"):
            state[key] = 1.0 + 0.1 * torch.randn(value.shape, generator=generator)
    state["bn0.running_mean"] = -40.0 + 5.0 * torch.randn(
        state["bn0.running_mean"].shape, generator=generator
    )
    state["bn0.running_var"] = (
        20.0 + 3.0 * torch.rand(state["bn0.running_var"].shape, generator=generator)
    ) ** 2
    state["fc_audioset.weight"] = state["fc_audioset.weight"] * 10.0
    return state


def vggish_state(seed: int) -> dict[str, Tensor]:
    """VGGish weights in the layout of ``vggish-10086976.pth``, random, with He gain before each ReLU."""
    from foleyzoo.embedders.vggish import VGGishNetwork

    shapes = {key: list(value.shape) for key, value in VGGishNetwork().state_dict().items()}
    state = random_state_dict(shapes, seed)
    for key in (
        "embeddings.0.weight",
        "embeddings.2.weight",
        *(k for k in state if k.startswith("features")),
    ):
        if state[key].dim() >= 2:
            state[key] = state[key] * math.sqrt(2.0)
    return state
