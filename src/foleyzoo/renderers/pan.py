"""The pan law shared by every renderer here: a pan position per mel bin → stereo log-mel from mono log-mel.

A source at horizontal position x ∈ [0, 1] is heard with left gain cos(θ) and right gain sin(θ), θ = x π / 2
(constant-power panning, as SynthFoley mixes its clips). The renderers receive the mono downmix
(L + R) / 2, so relative to it the channels are scaled by

    a_L = 2 cos θ / (cos θ + sin θ),    a_R = 2 sin θ / (cos θ + sin θ),

which keep the constant-power ratio a_R / a_L = tan θ and average to exactly 1: the downmix of a
rendered pair is the mono input, whatever the pan. On log-mel magnitudes the gains are added as logs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["PAN_LIMIT", "apply_pan", "pan_gains", "pan_of_stereo"]

PAN_LIMIT = 1e-3
"""Positions are clamped to [PAN_LIMIT, 1 − PAN_LIMIT] so that neither channel's log-gain is −inf."""


def pan_gains(position: Tensor) -> tuple[Tensor, Tensor]:
    """Positions x (any shape, 0 = left, 1 = right) → downmix-preserving gains (a_L, a_R) of the same shape."""
    theta = position.clamp(PAN_LIMIT, 1.0 - PAN_LIMIT) * (math.pi / 2)
    cos, sin = torch.cos(theta), torch.sin(theta)
    total = cos + sin
    return 2 * cos / total, 2 * sin / total


def apply_pan(mono: Tensor, position: Tensor) -> Tensor:
    """Mono log-mel (B, 1, F, T) and positions broadcastable to (B, F, T) → stereo log-mel (B, 2, F, T)."""
    left, right = pan_gains(position.expand(mono.shape[0], *mono.shape[2:]))
    return torch.stack([mono[:, 0] + torch.log(left), mono[:, 0] + torch.log(right)], dim=1)


def pan_of_stereo(stereo: Tensor) -> Tensor:
    """Stereo log-mel (B, 2, F, T) → the position (B, F, T) of each bin: (2 / π) · atan(R / L) on magnitudes."""
    magnitude = stereo.exp()
    return torch.atan2(magnitude[:, 1], magnitude[:, 0]) * (2 / math.pi)
