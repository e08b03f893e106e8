"""The pan network: for every time-frequency bin of a mono mel, attend over the frame's tokens and point at a position.

Audio side: a small 2-D CNN over the normalised log-mel, told each bin's band (a learned embedding) and
the whole spectrum of its frame (a 1-D convolution over time), gives one query a bin, plus a learned
query of the bin's band (what usually sounds in a band is a strong hint of which thing sounds). Visual side:
each token of the video frame on screen at that time gives one key. The bin's position is the
attention-weighted mean of the tokens' horizontal centres, so what the network learns is *which thing
on screen sounds like this bin*; the answer is a position by construction, and bins of different
sources in one clip can point at different things.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.encoders.visual.pan_grid import token_positions

__all__ = ["PanNetwork", "ResBlock2d"]


class ResBlock2d(nn.Module):
    """A 3 × 3 convolution dilated along time with a skip: (B, C, F, T) → (B, C, F, T)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=(1, dilation), dilation=(1, dilation))
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mix(F.gelu(self.conv(F.gelu(x))))


class PanNetwork(nn.Module):
    """Normalised mono log-mel (B, F, T) and tokens (B, T_v, N, D) → pan position x ∈ (0, 1) per bin (B, F, T)."""

    def __init__(
        self,
        n_mels: int,
        visual_dim: int,
        grid: tuple[int, int],
        channels: int = 24,
        query_dim: int = 32,
        blocks: int = 4,
        context_kernel: int = 9,
    ) -> None:
        super().__init__()
        if context_kernel % 2 == 0:
            raise ValueError(f"context_kernel must be odd, got {context_kernel}")
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.band = nn.Parameter(torch.zeros(1, channels, n_mels, 1))
        self.context = nn.Conv1d(n_mels, channels, context_kernel, padding=context_kernel // 2)
        self.body = nn.Sequential(*(ResBlock2d(channels, 2 ** (k % 4)) for k in range(blocks)))
        self.query = nn.Conv2d(channels, query_dim, 1)
        self.band_query = nn.Parameter(torch.zeros(1, query_dim, n_mels, 1))
        self.key = nn.Linear(visual_dim, query_dim)
        self.register_buffer("positions", torch.tensor(token_positions(grid)), persistent=False)
        nn.init.normal_(self.band, std=0.5)

    def queries(self, mel: Tensor) -> Tensor:
        """Normalised log-mel (B, F, T) → one query a bin (B, query_dim, F, T)."""
        hidden = self.stem(mel[:, None]) + self.band + self.context(mel)[:, :, None, :]
        return self.query(F.gelu(self.body(hidden))) + self.band_query

    def attention(self, mel: Tensor, tokens: Tensor, frame_index: Tensor) -> Tensor:
        """(B, F, T) bins × tokens (B, T_v, N, D), frame ``frame_index[t]`` on screen at bin t → weights (B, F, T, N)."""
        query = self.queries(mel)
        keys = self.key(tokens)[:, frame_index]  # (B, T, N, query_dim)
        logits = torch.einsum("bdft,btnd->bftn", query, keys) / math.sqrt(query.shape[1])
        return logits.softmax(dim=-1)

    def forward(self, mel: Tensor, tokens: Tensor, frame_index: Tensor) -> Tensor:
        return torch.einsum("bftn,n->bft", self.attention(mel, tokens, frame_index), self.positions)
