"""How well a trained SyncPretraining model tells audio-visual offsets, on held-out SynthFoley clips.

* :func:`offset_accuracy`: every held-out clip paired with its sound at every grid offset (the training
  task, exhaustively): accuracy and the share within one grid step.
* :func:`shifted_clip_offsets`: clean clips whose whole sound is delayed or advanced by a known amount
  (not necessarily on the grid), offset read by :meth:`SyncPretraining.predict_offset`: the share of
  predictions within one grid step of the truth — what the DeSync metric relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from foleyzoo.api import Video, Waveform
from foleyzoo.synthfoley.datamodule import resample_frames
from foleyzoo.synthfoley.generator import FPS, SAMPLE_RATE, generate_clip
from foleyzoo.training.sync import SyncPretraining

__all__ = ["HeldOutClip", "held_out_clips", "offset_accuracy", "shift_audio", "shifted_clip_offsets"]


@dataclass(frozen=True)
class HeldOutClip:
    """Sync frames (T, 3, H, W) at the model's fps, and the mono noisy and clean sound (1, N)."""

    frames: torch.Tensor
    audio: torch.Tensor
    clean_audio: torch.Tensor


def held_out_clips(model: SyncPretraining, seed: int, count: int, size: tuple[int, int]) -> list[HeldOutClip]:
    """``count`` SynthFoley clips of ``seed`` (never a training seed), framed as the model expects."""
    clips = []
    for index in range(count):
        clip = generate_clip((seed, index))
        frames = (
            torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255.0
        )  # (T, 3, 64, 64) uint8 → [0, 1]
        frames = resample_frames(frames, FPS, model.sync_encoder.fps, size)
        audio = torch.from_numpy(
            np.ascontiguousarray(clip.audio.mean(axis=0, keepdims=True), dtype=np.float32)
        )
        clean = torch.from_numpy(
            np.ascontiguousarray(clip.clean_audio.mean(axis=0, keepdims=True), dtype=np.float32)
        )
        clips.append(HeldOutClip(frames, audio, clean))
    return clips


@torch.no_grad()
def offset_accuracy(
    model: SyncPretraining, clips: list[HeldOutClip], batch_size: int = 16
) -> dict[str, float]:
    """Accuracy (and share within one grid step) over every clip × every offset class, window centred."""
    model.eval()
    fps, classes = model.sync_encoder.fps, len(model.offsets)
    hits = near = total = 0
    for first in range(0, len(clips), batch_size):
        group = clips[first : first + batch_size]
        sync = Video(torch.stack([c.frames for c in group]), fps)
        audio = Waveform(torch.stack([c.audio for c in group]), SAMPLE_RATE)
        duration = sync.frames.shape[1] / fps
        start = torch.full((len(group),), max(0.0, (duration - model.window) / 2))
        for label in range(classes):
            labels = torch.full((len(group),), label)
            video, sound = model.cut_pairs(sync, audio, labels, start)
            predicted = model.logits(video, sound).argmax(dim=-1)
            hits += int((predicted == labels).sum())
            near += int((((predicted - labels).abs() <= 1) & (predicted < len(model.offsets))).sum())
            total += len(group)
    return {"accuracy": hits / total, "within_one_step": near / total, "pairs": total}


def shift_audio(samples: torch.Tensor, seconds: float, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(C, N) delayed by ``seconds`` (advanced when negative), zero-filled, same length."""
    shift = round(seconds * sample_rate)
    if shift >= 0:
        return torch.nn.functional.pad(samples, (shift, 0))[:, : samples.shape[-1]]
    return torch.nn.functional.pad(samples[:, -shift:], (0, -shift))


@torch.no_grad()
def shifted_clip_offsets(
    model: SyncPretraining, clips: list[HeldOutClip], shifts: list[float]
) -> dict[str, float]:
    """Clean sound shifted by each amount in ``shifts`` (one a clip, cycling): share predicted within a step."""
    model.eval()
    step = float(model.offsets[1] - model.offsets[0])
    errors = []
    for index, clip in enumerate(clips):
        shift = shifts[index % len(shifts)]
        video = Video(clip.frames[None], model.sync_encoder.fps)
        sound = Waveform(shift_audio(clip.clean_audio, shift)[None], SAMPLE_RATE)
        errors.append(abs(float(model.predict_offset(video, sound)[0]) - shift))
    errors_array = np.asarray(errors)
    return {
        "within_one_step": float(np.mean(errors_array <= step + 1e-6)),
        "median_error_s": float(np.median(errors_array)),
        "clips": len(clips),
    }
