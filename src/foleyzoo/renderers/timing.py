"""Align video frames with mel frames: the frame index and the interpolated value at each mel frame's time."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mel_frame_times", "nearest_frames", "resample_to_mel"]


def mel_frame_times(
    frames: int, frame_rate: float, start: int = 0, device: torch.device | None = None
) -> Tensor:
    """Times (s) of mel frames ``start … start + frames − 1`` (frame t is centred on t / frame_rate)."""
    return (torch.arange(frames, device=device) + start) / frame_rate


def nearest_frames(times: Tensor, fps: float, count: int) -> Tensor:
    """Index of the video frame on screen at each time (frame k shows k / fps … (k + 1) / fps), within [0, count)."""
    return (times * fps + 1e-6).floor().long().clamp(0, count - 1)


def resample_to_mel(values: Tensor, value_times: Tensor, times: Tensor) -> Tensor:
    """(B, K) values at increasing ``value_times`` (K,) → (B, len(times)) linearly interpolated, held at the ends."""
    if values.shape[-1] == 1:
        return values.expand(values.shape[0], times.shape[0])
    upper = torch.searchsorted(value_times, times).clamp(1, len(value_times) - 1)
    lower = upper - 1
    t0, t1 = value_times[lower], value_times[upper]
    weight = ((times - t0) / (t1 - t0)).clamp(0.0, 1.0)
    return values[:, lower] * (1 - weight) + values[:, upper] * weight
