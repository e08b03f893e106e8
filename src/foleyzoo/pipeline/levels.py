"""Safe output levels: every generated sample kept below full scale, by one gain or by a peak limiter.

Generated audio is written as float WAV and AAC; neither clips, so a sample beyond ±1.0 reaches the
listener's speakers as it is. Two ways keep it below the ceiling, both leaving audio that is already
below it bit for bit: ``gain`` (the default) scales the whole clip by one factor, so every transient
keeps the shape the model generated; ``limiter`` lowers the gain only around the samples above the
ceiling, with a 5 ms ramp before and after each, which keeps the rest of a long file at its level but
reshapes the loudest attacks (their gain dips and recovers within a few milliseconds, which an onset
detector can hear as a second onset).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["CEILING", "LEVEL_MODES", "RAMP_SECONDS", "keep_below_ceiling", "limit_peaks", "scale_to_ceiling"]

CEILING = 10 ** (-1 / 20)
"""-1 dBFS (0.891): the usual ceiling for audio that will be AAC-encoded, whose decoded peaks overshoot a little."""
LEVEL_MODES = ("gain", "limiter")
"""How generated audio is kept below the ceiling: one gain for the whole clip, or the look-ahead limiter."""
RAMP_SECONDS = 0.005
"""How long the gain takes to fall before a peak and to recover after it: 5 ms, shorter than a transient
is heard as ducked, long enough that the gain change itself makes no click."""


def limit_peaks(
    samples: Tensor, sample_rate: int, ceiling: float = CEILING, ramp_seconds: float = RAMP_SECONDS
) -> Tensor:
    """``samples`` (channels, N) with no magnitude above ``ceiling``, channels sharing one gain (the
    stereo image stays put); audio already below the ceiling is returned unchanged.

    The gain is the per-sample gain each peak needs, spread by a minimum filter over ±ramp and then
    averaged over ±ramp: each averaged value only sees minima whose windows hold the sample itself, so it
    never exceeds that sample's own need, and the ceiling holds exactly.
    """
    if ceiling <= 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    peak = samples.abs().amax(dim=0) if samples.dim() > 1 else samples.abs()
    if samples.numel() == 0 or float(peak.max()) <= ceiling:
        return samples
    need = (ceiling / peak.clamp_min(ceiling)).to(torch.float32)[None, None]  # (1, 1, N), ≤ 1
    half = max(1, round(ramp_seconds * sample_rate))
    spread = -F.max_pool1d(F.pad(-need, (half, half), value=-1.0), 2 * half + 1, stride=1)
    gain = F.avg_pool1d(F.pad(spread, (half, half), mode="replicate"), 2 * half + 1, stride=1)
    gain = torch.minimum(gain, need)[0, 0]  # equal already up to rounding; exact ceiling all the same
    gain = torch.where(gain > 1 - 1e-6, torch.ones_like(gain), gain)  # untouched stays bit for bit
    return (samples * gain.to(samples.dtype)).clamp(-ceiling, ceiling)


def scale_to_ceiling(samples: Tensor, ceiling: float = CEILING) -> Tensor:
    """``samples`` (channels, N) scaled by one gain so that the loudest sample sits at ``ceiling``; audio
    already below the ceiling is returned unchanged. Every channel and sample gets the same factor, so the
    waveform's shape, its transients and the stereo image are the generated ones."""
    if ceiling <= 0:
        raise ValueError(f"ceiling must be positive, got {ceiling}")
    if samples.numel() == 0:
        return samples
    peak = float(samples.abs().max())
    if peak <= ceiling:
        return samples
    return (samples * (ceiling / peak)).clamp(-ceiling, ceiling)  # the clamp only absorbs rounding


def keep_below_ceiling(
    samples: Tensor, sample_rate: int, mode: str = "gain", ceiling: float = CEILING
) -> Tensor:
    """``samples`` (channels, N) below ``ceiling`` by ``mode``: ``gain`` (:func:`scale_to_ceiling`) or
    ``limiter`` (:func:`limit_peaks`)."""
    if mode == "gain":
        return scale_to_ceiling(samples, ceiling)
    if mode == "limiter":
        return limit_peaks(samples, sample_rate, ceiling)
    raise ValueError(f"levels must be one of {', '.join(LEVEL_MODES)}, got {mode!r}")
