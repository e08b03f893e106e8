"""Anti-aliased periodic activations (BigVGAN's AMP): Snake, SnakeBeta and ×2 resampling around them.

A periodic activation makes harmonics above the Nyquist frequency; BigVGAN (Lee et al., 2023) applies
it at twice the sample rate between a ×2 upsampling and a ×2 downsampling, both low-pass filtered by
a Kaiser-windowed sinc (as in StyleGAN3's alias-free layers).

* Snake: x + sin²(αx) / α; SnakeBeta: x + sin²(αx) / β, per channel, α = e^a and β = e^b when
  ``logscale`` (the parameters are stored as logarithms); 1e-9 is added to the divisor.
* Filter of ``kernel`` taps for cutoff f_c and transition half-width h (in cycles a sample): a Kaiser
  window whose β follows Kaiser's formula for attenuation A = 2.285 · (kernel // 2 − 1) · π · 4h + 7.95
  dB (β = 0.1102 (A − 8.7) above 50 dB, 0.5842 (A − 21)^0.4 + 0.07886 (A − 21) from 21 dB, else 0),
  times 2f_c · sinc(2f_c · t) on taps t = −kernel/2 + ½ … kernel/2 − ½ (even kernels), normalised to sum 1.
* ×2 upsampling: replicate-pad by kernel/2 − 1, insert zeros (a transposed convolution of stride 2) with
  the filter × 2, trim to 2T; ×2 downsampling: replicate-pad (kernel/2 − 1 left, kernel/2 right), filter
  with stride 2. Both use f_c = 1/4, h = 0.3 and 12 taps.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "AntiAliasedActivation",
    "DownSample1d",
    "Snake",
    "SnakeBeta",
    "UpSample1d",
    "kaiser_beta",
    "kaiser_sinc_filter",
    "resampling_filter",
]

DIVISOR_EPS = 1e-9


def kaiser_beta(attenuation: float) -> float:
    """Kaiser's β for a stop-band attenuation in dB (0 below 21 dB)."""
    if attenuation > 50.0:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21.0:
        return 0.5842 * (attenuation - 21.0) ** 0.4 + 0.07886 * (attenuation - 21.0)
    return 0.0


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> Tensor:
    """(kernel_size,) low-pass taps: a Kaiser window times 2f_c·sinc(2f_c·t), summing to 1 (float32)."""
    if not 0.0 < cutoff <= 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5] cycles a sample, got {cutoff}")
    half = kernel_size // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    window = torch.kaiser_window(kernel_size, periodic=False, beta=kaiser_beta(attenuation))
    taps = torch.arange(-half, half) + 0.5 if kernel_size % 2 == 0 else torch.arange(kernel_size) - half
    response = 2 * cutoff * window * torch.sinc(2 * cutoff * taps)
    return response / response.sum()


def resampling_filter(ratio: int, kernel_size: int) -> Tensor:
    """(1, 1, kernel_size) taps of a ×``ratio`` resampler: cutoff 0.5 / ratio, half-width 0.6 / ratio."""
    return kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, kernel_size).view(1, 1, -1)


class UpSample1d(nn.Module):
    """(B, C, T) → (B, C, ratio · T): zero insertion and low-pass filtering, edges replicated."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio, self.kernel_size = ratio, kernel_size
        self.pad = kernel_size // ratio - 1
        self.trim_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.trim_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", resampling_filter(ratio, kernel_size), persistent=False)

    def reset_filter(self) -> None:
        """Recompute the filter (after ``to_empty`` left the buffer uninitialised)."""
        self.filter = resampling_filter(self.ratio, self.kernel_size).to(self.filter.device)

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        taps = self.filter.to(x.dtype).expand(channels, -1, -1)
        x = self.ratio * F.conv_transpose1d(x, taps, stride=self.ratio, groups=channels)
        return x[..., self.trim_left : x.shape[-1] - self.trim_right]


class DownSample1d(nn.Module):
    """(B, C, T) → (B, C, T / ratio): low-pass filtering with stride ``ratio``, edges replicated."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio, self.kernel_size = ratio, kernel_size
        even = kernel_size % 2 == 0
        self.pad_left, self.pad_right = kernel_size // 2 - int(even), kernel_size // 2
        self.register_buffer("filter", resampling_filter(ratio, kernel_size), persistent=False)

    def reset_filter(self) -> None:
        """Recompute the filter (after ``to_empty`` left the buffer uninitialised)."""
        self.filter = resampling_filter(self.ratio, self.kernel_size).to(self.filter.device)

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(
            x, self.filter.to(x.dtype).expand(channels, -1, -1), stride=self.ratio, groups=channels
        )


class Snake(nn.Module):
    """x + sin²(αx) / α per channel of (B, C, T); ``alpha`` (C,) stored as log α when ``logscale``."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = logscale
        self.alpha = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        alpha = self.alpha[None, :, None]
        alpha = alpha.exp() if self.logscale else alpha
        return x + torch.sin(x * alpha).pow(2) / (alpha + DIVISOR_EPS)


class SnakeBeta(nn.Module):
    """x + sin²(αx) / β per channel of (B, C, T); ``alpha``, ``beta`` (C,) stored as logs when ``logscale``."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = logscale
        start = torch.zeros(channels) if logscale else torch.ones(channels)
        self.alpha = nn.Parameter(start.clone())
        self.beta = nn.Parameter(start.clone())

    def forward(self, x: Tensor) -> Tensor:
        alpha, beta = self.alpha[None, :, None], self.beta[None, :, None]
        if self.logscale:
            alpha, beta = alpha.exp(), beta.exp()
        return x + torch.sin(x * alpha).pow(2) / (beta + DIVISOR_EPS)


class AntiAliasedActivation(nn.Module):
    """``act`` at twice the rate: ×2 upsampling, the activation, ×2 downsampling; (B, C, T) → (B, C, T)."""

    def __init__(self, act: nn.Module, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(ratio, kernel_size)
        self.downsample = DownSample1d(ratio, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(self.act(self.upsample(x)))
