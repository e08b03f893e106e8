"""Audio pre-processing of the evaluation, as av-benchmark does it: mono, resampled, cut or padded to a length."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["KERNEL_PRECISIONS", "fit_length", "prepare_audio", "resample", "to_mono"]

LOWPASS_WIDTH = 6
"""Zero crossings each side of the windowed-sinc resampling kernel (torchaudio's default)."""

ROLLOFF = 0.99
"""Cut-off of the resampling low-pass as a share of the lower Nyquist frequency (torchaudio's default)."""


KERNEL_PRECISIONS = ("float64", "torchaudio-transform", "torchaudio-functional")
"""How the resampling kernel is computed: wholly in float64 (foleyzoo's default), or with the float32 steps
of ``torchaudio.transforms.Resample`` (phases j / new in float32, the rest in float64, then stored as
float32) or of ``torchaudio.functional.resample`` on float32 audio (all float32), to reproduce each bit
for bit."""


@functools.lru_cache(maxsize=16)
def _sinc_kernels(orig: int, new: int, precision: str = "float64") -> tuple[Tensor, int]:
    """Polyphase Hann-windowed sinc kernels (new, 1, L) and the padding width, rates reduced by their gcd."""
    base = min(orig, new) * ROLLOFF
    width = math.ceil(LOWPASS_WIDTH * orig / base)
    index_dtype = torch.float32 if precision == "torchaudio-functional" else torch.float64
    phase_dtype = torch.float64 if precision == "float64" else torch.float32
    index = torch.arange(-width, width + orig, dtype=index_dtype)[None, None] / orig
    t = (torch.arange(0, -new, -1, dtype=phase_dtype)[:, None, None] / new + index) * base
    t = t.clamp(-LOWPASS_WIDTH, LOWPASS_WIDTH)
    window = torch.cos(t * math.pi / LOWPASS_WIDTH / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, torch.ones_like(t), t))
    kernels = sinc * (window * (base / orig))
    return (kernels.float() if precision == "torchaudio-transform" else kernels), width


def resample(samples: Tensor, orig_rate: int, new_rate: int, precision: str = "float64") -> Tensor:
    """(..., N) at ``orig_rate`` → (..., ceil(N · new / orig)) at ``new_rate``, band-limited (windowed sinc).

    The same algorithm as ``torchaudio.functional.resample`` with its defaults (6 zero crossings,
    roll-off 0.99, Hann window); the identity when the rates are equal. ``precision`` (one of
    :data:`KERNEL_PRECISIONS`) chooses how the kernel is computed.
    """
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} and {new_rate}")
    if orig_rate == new_rate:
        return samples
    gcd = math.gcd(int(orig_rate), int(new_rate))
    orig, new = int(orig_rate) // gcd, int(new_rate) // gcd
    if precision not in KERNEL_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(KERNEL_PRECISIONS)}, got {precision!r}")
    kernels, width = _sinc_kernels(orig, new, precision)
    shape, length = samples.shape[:-1], samples.shape[-1]
    flat = samples.reshape(-1, 1, length)
    padded = F.pad(flat, (width, width + orig))
    out = F.conv1d(padded, kernels.to(flat), stride=orig)  # (B, new, frames)
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    return out[:, : math.ceil(new * length / orig)].reshape(*shape, -1)


def to_mono(samples: Tensor) -> Tensor:
    """(..., C, N) → (..., 1, N): the mean of the channels."""
    return samples.mean(dim=-2, keepdim=True)


def fit_length(samples: Tensor, length: int) -> Tensor:
    """(..., N) cut to ``length`` samples, or zero-padded at the end up to it."""
    if samples.shape[-1] >= length:
        return samples[..., :length]
    return F.pad(samples, (0, length - samples.shape[-1]))


def prepare_audio(samples: Tensor, sample_rate: int, target_rate: int, duration: float | None) -> Tensor:
    """(B, C, N) → mono (B, 1, M) at ``target_rate``, cut or zero-padded to ``duration`` seconds (None: kept)."""
    mono = resample(to_mono(samples.float()), sample_rate, target_rate)
    return mono if duration is None else fit_length(mono, round(duration * target_rate))
