"""The mel inversion's sparse Lee-Seung updates are the dense ones, for any filterbank."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.codecs.mel import MelConfig, mel_filterbank
from foleyzoo.vocoders.griffin_lim import nnls_magnitude


def dense_updates(mel: torch.Tensor, filters: torch.Tensor, pinv: torch.Tensor, steps: int) -> torch.Tensor:
    """The textbook form, S ← S · Fᵀmel / (FᵀF S), in float64 with dense products."""
    filters, pinv, mel = filters.double(), pinv.double(), mel.double()
    start = torch.einsum("fm,bmt->bft", pinv, mel).clamp_min(0.0)
    magnitude = start + 1e-3 * start.mean(dim=1, keepdim=True) + 1e-10
    numerator = filters.T @ mel
    for _ in range(steps):
        magnitude = magnitude * numerator / (filters.T @ (filters @ magnitude) + 1e-10)
    return magnitude


def scattered_filterbank(bands: int, bins: int, per_bin: int, seed: int) -> torch.Tensor:
    """Non-negative weights, ``per_bin`` random bands a bin (some bins in none): not a triangular bank."""
    generator = torch.Generator().manual_seed(seed)
    filters = torch.zeros(bands, bins)
    for column in range(bins):
        if column % 7 == 3:
            continue  # a bin no band covers
        rows = torch.randperm(bands, generator=generator)[:per_bin]
        filters[rows, column] = torch.rand(per_bin, generator=generator) + 0.1
    return filters


@pytest.mark.parametrize(
    "filters",
    [
        mel_filterbank(MelConfig(sample_rate=16000, n_fft=512, hop_length=128, n_mels=64)),
        mel_filterbank(MelConfig(sample_rate=16000, n_fft=1024, hop_length=256, n_mels=80, f_min=50.0)),
        scattered_filterbank(bands=12, bins=40, per_bin=3, seed=0),
    ],
    ids=["tiny-codec-mel", "80-band-mel", "scattered"],
)
def test_sparse_updates_match_the_dense_ones(filters: torch.Tensor) -> None:
    generator = torch.Generator().manual_seed(1)
    truth = torch.rand(2, filters.shape[1], 30, generator=generator) ** 4  # peaky spectra, like tones
    mel = filters @ truth + 1e-6
    pinv = torch.linalg.pinv(filters.double()).float()
    got = nnls_magnitude(mel, filters, pinv, steps=64)
    want = dense_updates(mel, filters, pinv, steps=64)
    assert got.dtype == mel.dtype and got.shape == truth.shape and bool((got >= 0).all())
    torch.testing.assert_close(got.double(), want, rtol=2e-3, atol=1e-6 * float(want.max()))
    # the updates fit the mel better than the start they leave from
    start = nnls_magnitude(mel, filters, pinv, steps=0)
    assert (filters @ got - mel).norm() < 0.5 * (filters @ start - mel).norm()
