"""Score stereo renderers on held-out SynthFoley clips: mono mix → mel → renderer → Griffin-Lim → SynthFoley scores.

Every clip's clean mono mix (the mean of its clean stereo channels) goes through the tiny codec's mel
front-end, the renderer, and Griffin-Lim channel by channel; the stereo waveform is scored with the
SynthFoley scorer (onset F1, class accuracy, pan error) and with the inter-channel level difference of
each ground-truth event against the clean reference stereo (:func:`ild_errors`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from foleyzoo.api import FrameFeatures, Mel, StereoRenderer, Video
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.synthfoley.datamodule import resample_frames
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.generator import FPS
from foleyzoo.synthfoley.scorer import GroundTruth
from foleyzoo.vocoders.base import vocode_to_length
from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder

__all__ = [
    "ILD_WINDOW",
    "HeldOutClip",
    "event_ild",
    "held_out_clips",
    "ild_errors",
    "render_clip",
    "score_waveforms",
    "tiny_mel_config",
]

ILD_WINDOW = 0.120
"""Seconds after each ground-truth event whose channel energies give its level difference (the spec's window)."""

ILD_EPS = 1e-12
"""Added to both channel energies, so a silent window has an ILD of 0 dB instead of a division by zero."""


def tiny_mel_config() -> MelConfig:
    """The tiny codec's mel settings (recipes/codec/melvae-tiny-16k.yaml): 16 kHz, n_fft 512, hop 128, 64 mels."""
    return MelConfig(sample_rate=16000, n_fft=512, hop_length=128, n_mels=64)


@dataclass(frozen=True)
class HeldOutClip:
    """One clip: clean stereo (2, N) at 16 kHz, its frames (T, 3, 64, 64) at 24 fps, its ground truth."""

    stem: str
    stereo: Tensor
    frames: Tensor
    truth: GroundTruth

    @property
    def mono(self) -> Tensor:
        """The clean mono mix (1, N): the mean of the clean channels, the renderers' input."""
        return self.stereo.mean(dim=0, keepdim=True)


def held_out_clips(seed: int = 2024, count: int = 32, duration: float = 4.0) -> list[HeldOutClip]:
    """Clips 0 … count − 1 of ``seed`` with their clean sound (training uses seeds 0 and 1)."""
    clips = []
    for index in range(count):
        item = make_item(seed, index, duration, clean=True)
        clips.append(
            HeldOutClip(
                f"clip_{index:05d}", item["audio"], item["frames"], GroundTruth.from_json(item["meta"])
            )
        )
    return clips


def event_ild(audio: np.ndarray, time: float, sample_rate: int = 16000) -> float:
    """10 · log10(E_R / E_L) in dB of (2, N) audio over [time, time + ILD_WINDOW)."""
    first, last = max(round(time * sample_rate), 0), round((time + ILD_WINDOW) * sample_rate)
    energy = np.square(audio[:, first:last].astype(np.float64)).sum(axis=1)
    return 10 * math.log10((energy[1] + ILD_EPS) / (energy[0] + ILD_EPS))


def ild_errors(generated: Any, reference: Any, truth: GroundTruth, sample_rate: int = 16000) -> list[float]:
    """|ILD(generated) − ILD(reference)| in dB for every ground-truth event of the clip (C = 1 counts as 0 dB)."""
    gen, ref = (np.asarray(a.detach().cpu() if hasattr(a, "detach") else a) for a in (generated, reference))
    gen = np.repeat(gen, 2, axis=0) if gen.shape[0] == 1 else gen
    ref = np.repeat(ref, 2, axis=0) if ref.shape[0] == 1 else ref
    return [
        abs(event_ild(gen, event.time, sample_rate) - event_ild(ref, event.time, sample_rate))
        for event in truth.events
    ]


def visual_features(renderer: StereoRenderer, frames: Tensor, size: tuple[int, int]) -> FrameFeatures | None:
    """The renderer's own visual encoder on a clip's 24 fps frames (resampled to its fps and ``size``), or None."""
    encoder = getattr(renderer, "visual_encoder", None)
    if encoder is None:
        return None
    chosen = resample_frames(frames, FPS, encoder.fps, size)
    return encoder.encode(Video(chosen[None], encoder.fps))


@torch.no_grad()
def render_clip(
    renderer: StereoRenderer | None,
    clip: HeldOutClip,
    frontend: MelFrontend,
    vocoder: GriffinLimVocoder,
    size: tuple[int, int] = (32, 32),
) -> Tensor:
    """The clip's mono mix → mel → ``renderer`` (None: the clean stereo mel itself) → Griffin-Lim → (2, N)."""
    config = frontend.config
    if renderer is None:
        stereo = Mel(frontend(clip.stereo[None]), config.sample_rate, config.frame_rate)
    else:
        mono = Mel(frontend(clip.mono[None]), config.sample_rate, config.frame_rate)
        stereo = renderer.render(mono, visual_features(renderer, clip.frames, size))
    return vocode_to_length(vocoder, stereo, clip.mono.shape[-1]).samples[0]


def score_waveforms(waveforms: Sequence[Any], clips: Sequence[HeldOutClip]) -> dict[str, Any]:
    """SynthFoley summary of (C, N) waveforms against their clips, plus the mean/median ILD error in dB."""
    scorer, errors = ClipScorer(), []
    for audio, clip in zip(waveforms, clips, strict=True):
        array = audio.detach().cpu().numpy() if hasattr(audio, "detach") else np.asarray(audio)
        scorer.add(array, clip.truth, 16000, clip.stem)
        errors.extend(ild_errors(array, clip.stereo, clip.truth))
    return {
        **scorer.summary().as_dict(),
        "ild_error_db": float(np.mean(errors)) if errors else math.nan,
        "ild_error_db_median": float(np.median(errors)) if errors else math.nan,
        "ild_events": len(errors),
    }
