"""Spectral distances shared by vocoder training and the vocoder benchmark (log-mel L1, multi-resolution STFT)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((256, 64), (512, 128), (1024, 256))
"""(n_fft, hop) pairs of the multi-resolution STFT distance; win_length = n_fft, Hann window."""


def _magnitude(samples: Tensor, n_fft: int, hop: int) -> Tensor:
    """(B, N) → (B, n_fft // 2 + 1, frames) STFT magnitudes, floored so logs are finite."""
    window = torch.hann_window(n_fft, device=samples.device, dtype=samples.dtype)
    spec = torch.stft(samples, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs().clamp_min(1e-7)


def multi_resolution_stft(
    predicted: Tensor, target: Tensor, resolutions: Sequence[tuple[int, int]] = DEFAULT_RESOLUTIONS
) -> Tensor:
    """Mean over resolutions of spectral convergence + log-magnitude L1 (Yamamoto et al., 2020).

    ``predicted`` and ``target`` are (B, N) (or (B, C, N), flattened over channels); returns a scalar.
    """
    predicted, target = predicted.reshape(-1, predicted.shape[-1]), target.reshape(-1, target.shape[-1])
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(predicted.shape)} vs {tuple(target.shape)}")
    total = predicted.new_zeros(())
    for n_fft, hop in resolutions:
        p, t = _magnitude(predicted, n_fft, hop), _magnitude(target, n_fft, hop)
        convergence = torch.linalg.norm(t - p, dim=(1, 2)) / torch.linalg.norm(t, dim=(1, 2)).clamp_min(1e-7)
        total = total + convergence.mean() + (t.log() - p.log()).abs().mean()
    return total / len(resolutions)


def spectral_convergence(predicted: Tensor, target: Tensor, n_fft: int = 1024, hop: int = 256) -> Tensor:
    """‖|S_t| − |S_p|‖_F / ‖|S_t|‖_F at one resolution, a scalar (0 = identical magnitudes); inputs (B, N)."""
    p, t = _magnitude(predicted, n_fft, hop), _magnitude(target, n_fft, hop)
    return (torch.linalg.norm(t - p) / torch.linalg.norm(t)).clamp_min(0.0)
