"""Safe output levels: a look-ahead peak limiter that keeps every generated sample below full scale.

Generated audio is written as float WAV and AAC; neither clips, so a sample beyond ±1.0 reaches the
listener's speakers as it is. The limiter lowers the gain only around samples above the ceiling, with
a short ramp before and after each (no click, no distortion), and leaves everything else bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["CEILING", "RAMP_SECONDS", "limit_peaks"]

CEILING = 10 ** (-1 / 20)
"""-1 dBFS (0.891): the usual ceiling for audio that will be AAC-encoded, whose decoded peaks overshoot a little."""
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
