"""TensorBoard media for a flow model's validation: generated audio and its spectrogram next to the reference."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from torch import Tensor

from foleyzoo.api import Mel, Waveform


def spectrogram_image(mel: Tensor) -> Tensor:
    """A log-mel (n_mels, T) as a (1, n_mels, T) image in [0, 1], low frequencies at the bottom."""
    low, high = mel.min(), mel.max()
    scaled = (mel - low) / (high - low).clamp_min(1e-6)
    return scaled.flip(0)[None].float().cpu()


def side_by_side(generated: Tensor, reference: Tensor) -> Tensor:
    """Generated (top) and reference (bottom) log-mels (n_mels, T) in one image, cut to a common length."""
    frames = min(generated.shape[-1], reference.shape[-1])
    both = torch.cat(
        [spectrogram_image(generated[..., :frames]), spectrogram_image(reference[..., :frames])], 1
    )
    return both


def log_generated_audio(module: LightningModule, mel: Mel, audio: Waveform, reference: Mel) -> int:
    """Write each clip's generated audio and a generated-vs-reference spectrogram; returns the clips written.

    Does nothing (returns 0) when the logger cannot take media (no TensorBoard logger).
    """
    logger = module.logger
    experiment = getattr(logger, "experiment", None) if logger is not None else None
    if experiment is None or not hasattr(experiment, "add_audio"):
        return 0
    step = module.global_step
    clips = audio.samples.shape[0]
    for index in range(clips):
        samples = audio.samples[index].mean(0).clamp(-1, 1).float().cpu()
        experiment.add_audio(f"val/audio_{index}", samples, step, sample_rate=audio.sample_rate)
        image = side_by_side(mel.values[index, 0], reference.values[index, 0])
        experiment.add_image(f"val/mel_{index} (generated above, reference below)", image, step)
    return clips
