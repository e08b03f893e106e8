"""Sounds with nothing in them to synchronise: the negatives that teach a sync judge to say so.

A sync model that can only answer with an offset must pick one even for a hiss: its DeSync for noise is
then whatever offset it happens to pick, no worse than for a real sound in the wrong place. Trained with
these stationary sounds as an extra "nothing to synchronise" class, it can tell the two apart.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["eventless_audio"]

LEVEL_RANGE_DB = (-70.0, -6.0)
"""RMS levels (dB full scale) the sounds are drawn between: from a faint floor to a loud hiss."""

NOISE_CORNER_HZ = 50.0
"""Coloured noise is flat below this and silent below half of it: no drifting near-DC level."""

HUM_RANGE_HZ = (40.0, 2000.0)
"""Frequencies (log-uniform) of the steady tones mixed into some of the sounds."""


def eventless_audio(
    count: int, length: int, sample_rate: int, generator: torch.Generator | None = None
) -> Tensor:
    """``count`` stationary mono sounds (count, 1, length): noise, a hum, both, or silence, at random levels.

    Noise is coloured with a random spectral slope, power ∝ f^−s for s ∈ [0, 2] (white, pink, brown and
    in between) above ``NOISE_CORNER_HZ``; a hum is a steady sine. A quarter of the rows each are noise, hum, noise with a hum, and
    silence; nothing starts or stops inside a row.
    """
    white = torch.randn(count, length, generator=generator)
    frequencies = torch.fft.rfftfreq(length, 1.0 / sample_rate)
    slope = 2.0 * torch.rand(count, 1, generator=generator)
    gain = frequencies.clamp_min(NOISE_CORNER_HZ).pow(-slope / 2) * (frequencies >= NOISE_CORNER_HZ / 2)
    noise = torch.fft.irfft(torch.fft.rfft(white) * gain, n=length)
    noise = noise / noise.std(dim=-1, keepdim=True).clamp_min(1e-12)
    low, high = (math.log(f) for f in HUM_RANGE_HZ)
    frequency = torch.exp(low + (high - low) * torch.rand(count, 1, generator=generator))
    phase = 2 * math.pi * torch.rand(count, 1, generator=generator)
    times = torch.arange(length, dtype=torch.float32) / sample_rate
    hum = math.sqrt(2.0) * torch.sin(2 * math.pi * frequency * times + phase)
    kind = torch.randint(0, 4, (count, 1), generator=generator)  # 0 noise, 1 hum, 2 both, 3 silence
    sound = torch.where(kind == 0, noise, torch.where(kind == 1, hum, (noise + hum) / math.sqrt(2.0)))
    sound = torch.where(kind == 3, torch.zeros_like(sound), sound)
    level_db = LEVEL_RANGE_DB[0] + (LEVEL_RANGE_DB[1] - LEVEL_RANGE_DB[0]) * torch.rand(
        count, 1, generator=generator
    )
    return (sound * 10 ** (level_db / 20))[:, None]
