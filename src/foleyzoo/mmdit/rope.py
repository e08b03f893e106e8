"""Rotary position embeddings on a time axis in seconds, so audio and video tokens of different rates align.

A token's position is its time in seconds multiplied by ``rate`` (the audio-latent rate by default), so an
audio latent frame and the video frame shown at the same instant get the same rotation (as MMAudio does
by scaling visual positions by the ratio of frame rates).
"""

from __future__ import annotations

import torch
from torch import Tensor


def token_times(length: int, fps: float, device: torch.device | None = None) -> Tensor:
    """(length,) start time in seconds of each of ``length`` frames sampled at ``fps``."""
    return torch.arange(length, device=device, dtype=torch.float32) / fps


class TimeRotary:
    """Rotary embedding whose positions are seconds × ``rate``; applied to q and k of shape (B, H, L, D)."""

    def __init__(self, head_dim: int, rate: float, theta: float = 10000.0) -> None:
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.rate = rate
        self.inverse_frequencies = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)

    def angles(self, times: Tensor) -> tuple[Tensor, Tensor]:
        """cos and sin tables (L, D) for token ``times`` (L,) in seconds."""
        positions = times.float() * self.rate
        frequencies = self.inverse_frequencies.to(times.device)
        angles = positions[:, None] * frequencies[None, :]  # (L, D/2)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, rotary: tuple[Tensor, Tensor] | None) -> Tensor:
    """Rotate ``x`` (B, H, L, D) by the (cos, sin) tables (L, D) in float32; unchanged when ``rotary`` is None.

    x·cos + rotate_half(x)·sin with rotate_half(x) = (−x₂, x₁), written as one roll and one fused
    multiply-add against sin with its first half negated (fewer passes over x than negate + concatenate).
    """
    if rotary is None:
        return x
    cos, sin = rotary
    half = x.shape[-1] // 2
    x32 = x.float()
    sign = torch.ones(x.shape[-1], dtype=sin.dtype, device=sin.device)
    sign[:half] = -1.0
    return torch.addcmul(x32 * cos, x32.roll(half, dims=-1), sin * sign).to(x.dtype)
