"""A 1-D mel-VAE built of EDM2's magnitude-preserving layers (the architecture of MMAudio's codecs).

Mel bins are channels, time is the one axis. The encoder maps a per-bin standardised log-mel
(B, n_mels, T) through a kernel-3 input convolution and ``len(multipliers)`` stages of residual blocks
(widths ``hidden`` × multiplier; a ×2 average-pool after the stages in ``resample_stages``), a middle of
block, single-head attention, block, and an output convolution with a learned gain to the posterior's
mean and log-variance (B, latent_dim, T / 2^k). The decoder mirrors it (one more block a stage,
nearest-neighbour ×2 upsampling). Activations are clamped to ±``clamp`` after every block.

Layers (:mod:`foleyzoo.codecs.edm2`): residual blocks are pixel norm → MP-SiLU → conv → MP-SiLU → conv,
summed with the (1×1-projected where the width changes) input by ``mp_sum(·, ·, 0.3)``; attention
pixel-normalises each of q, k and v over its channels (cosine attention) before softmax attention; the
×2 downsampling is 1×1 conv → average pool → 1×1 conv, the upsampling repetition → kernel-3 conv.
Weights are stored folded (normalised), as :func:`foleyzoo.codecs.edm2.fold_weight` leaves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.codecs.edm2 import MPConv1d, mp_silu, mp_sum, pixel_norm

__all__ = ["EDM2Decoder", "EDM2Encoder", "EDM2VAEArchitecture", "EDM2VAENetwork"]

RESIDUAL_WEIGHT = 0.3
"""t of ``mp_sum(skip, branch, t)`` in the residual blocks and the attention."""


@dataclass(frozen=True)
class EDM2VAEArchitecture:
    """Sizes of an EDM2 1-D mel-VAE: mel bins, latent channels, base width, width multipliers, blocks a stage,
    the stages followed by ×2 resampling, the activation clamp and the convolutions' kernel."""

    n_mels: int = 80
    latent_dim: int = 20
    hidden: int = 384
    multipliers: tuple[int, ...] = (1, 2, 4)
    blocks: int = 2
    resample_stages: tuple[int, ...] = (0,)
    clamp: float = 256.0
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if not self.multipliers or any(m < 1 for m in self.multipliers):
            raise ValueError(f"multipliers must be positive integers, got {self.multipliers}")
        bad = [s for s in self.resample_stages if not 0 <= s < len(self.multipliers) - 1]
        if bad or len(set(self.resample_stages)) != len(self.resample_stages):
            raise ValueError(
                f"resample_stages must be distinct stages before the last of multipliers {self.multipliers} "
                f"(0 … {len(self.multipliers) - 2}), got {self.resample_stages}"
            )

    @property
    def downsample(self) -> int:
        """Mel frames a latent frame: 2 ** len(resample_stages)."""
        return 2 ** len(self.resample_stages)

    def widths(self) -> list[int]:
        return [self.hidden * m for m in self.multipliers]


class ResidualBlock(nn.Module):
    """(B, in, T) → (B, out, T): pixel norm, then mp_sum(x, conv2(mp_silu(conv1(mp_silu(x)))), 0.3)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv1 = MPConv1d(in_channels, out_channels, kernel_size)
        self.conv2 = MPConv1d(out_channels, out_channels, kernel_size)
        self.skip = MPConv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        x = pixel_norm(x, dim=1)
        h = self.conv2(mp_silu(self.conv1(mp_silu(x))))
        if self.skip is not None:
            x = self.skip(x)
        return mp_sum(x, h, RESIDUAL_WEIGHT)


class Attention(nn.Module):
    """Single-head cosine self-attention over time: (B, C, T) → (B, C, T), added back by mp_sum.

    ``qkv`` rows are q, then k, then v (C each); each is pixel-normalised over its channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.qkv = MPConv1d(channels, 3 * channels, 1)
        self.out = MPConv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = (pixel_norm(part, dim=1).transpose(1, 2) for part in self.qkv(x).chunk(3, dim=1))
        h = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return mp_sum(x, self.out(h.transpose(1, 2)), RESIDUAL_WEIGHT)


class Downsample(nn.Module):
    """(B, C, T) → (B, C, T // 2): 1×1 conv, average pool of 2, 1×1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = MPConv1d(channels, channels, 1)
        self.conv2 = MPConv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(F.avg_pool1d(self.conv1(x), kernel_size=2, stride=2))


class Upsample(nn.Module):
    """(B, C, T) → (B, C, 2T): each frame repeated, then a kernel-3 conv."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = MPConv1d(channels, channels, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x.repeat_interleave(2, dim=-1))


class Stage(nn.Module):
    """Residual blocks at one width, then optionally a ×2 resampling (``resample``)."""

    def __init__(
        self, widths: Sequence[tuple[int, int]], kernel_size: int, resample: nn.Module | None
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResidualBlock(a, b, kernel_size) for a, b in widths)
        self.resample = resample

    def forward(self, x: Tensor, clamp: float) -> Tensor:
        for block in self.blocks:
            x = block(x).clamp(-clamp, clamp)
        return x if self.resample is None else self.resample(x)


class Middle(nn.Module):
    """Block, attention, block at the deepest width, then the clamp."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.block1 = ResidualBlock(channels, channels, kernel_size)
        self.attention = Attention(channels)
        self.block2 = ResidualBlock(channels, channels, kernel_size)

    def forward(self, x: Tensor, clamp: float) -> Tensor:
        return self.block2(self.attention(self.block1(x))).clamp(-clamp, clamp)


class EDM2Encoder(nn.Module):
    """Standardised log-mel (B, n_mels, T) → posterior moments (B, 2 · latent_dim, T / downsample)."""

    def __init__(self, arch: EDM2VAEArchitecture) -> None:
        super().__init__()
        self.clamp = arch.clamp
        widths = arch.widths()
        self.input = MPConv1d(arch.n_mels, arch.hidden, arch.kernel_size)
        stages, width = [], arch.hidden
        for index, out in enumerate(widths):
            pairs = [(width, out)] + [(out, out)] * (arch.blocks - 1)
            down = Downsample(out) if index in arch.resample_stages else None
            stages.append(Stage(pairs, arch.kernel_size, down))
            width = out
        self.stages = nn.ModuleList(stages)
        self.middle = Middle(width, arch.kernel_size)
        self.output = MPConv1d(width, 2 * arch.latent_dim, arch.kernel_size)
        self.output_gain = nn.Parameter(torch.zeros(()))

    def forward(self, mel: Tensor) -> Tensor:
        x = self.input(mel)
        for stage in self.stages:
            x = stage(x, self.clamp)
        x = self.middle(x, self.clamp)
        return self.output(mp_silu(x), gain=1.0 + self.output_gain)


class EDM2Decoder(nn.Module):
    """Latents (B, latent_dim, T) → standardised log-mel (B, n_mels, T · downsample).

    Stages run from the deepest width back to ``hidden``, each with one block more than the encoder's.
    Where the encoder downsamples after stage k, the decoder upsamples after its mirror of stage k + 1
    (so the frames double before the blocks at stage k's width, as they halved after them).
    """

    def __init__(self, arch: EDM2VAEArchitecture) -> None:
        super().__init__()
        self.clamp = arch.clamp
        widths = arch.widths()
        width = widths[-1]
        self.input = MPConv1d(arch.latent_dim, width, arch.kernel_size)
        self.middle = Middle(width, arch.kernel_size)
        upsampled = {stage + 1 for stage in arch.resample_stages}
        stages = []
        for level in reversed(range(len(widths))):
            out = widths[level]
            pairs = [(width, out)] + [(out, out)] * arch.blocks
            up = Upsample(out, arch.kernel_size) if level in upsampled else None
            stages.append(Stage(pairs, arch.kernel_size, up))
            width = out
        self.stages = nn.ModuleList(stages)
        self.output = MPConv1d(width, arch.n_mels, arch.kernel_size)
        self.output_gain = nn.Parameter(torch.zeros(()))

    def forward(self, z: Tensor) -> Tensor:
        x = self.middle(self.input(z), self.clamp)
        for stage in self.stages:
            x = stage(x, self.clamp)
        return self.output(mp_silu(x), gain=1.0 + self.output_gain)


class EDM2VAENetwork(nn.Module):
    """The VAE with its per-bin mel statistics: log-mel (B, n_mels, T) ⇄ latents (B, latent_dim, T / downsample).

    ``mel_mean``/``mel_std`` (n_mels,) standardise the log-mel the encoder reads and undo it on the
    decoder's output.
    """

    def __init__(self, arch: EDM2VAEArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.register_buffer("mel_mean", torch.zeros(arch.n_mels))
        self.register_buffer("mel_std", torch.ones(arch.n_mels))
        self.encoder = EDM2Encoder(arch)
        self.decoder = EDM2Decoder(arch)

    def moments(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """Log-mel (B, n_mels, T) → posterior mean and log-variance (clamped to [−30, 20]), each (B, C, T // 2^k)."""
        standardised = (mel - self.mel_mean[:, None]) / self.mel_std[:, None]
        mean, logvar = self.encoder(standardised).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, C, T) → log-mel (B, n_mels, T · 2^k)."""
        return self.decoder(z) * self.mel_std[:, None] + self.mel_mean[:, None]
