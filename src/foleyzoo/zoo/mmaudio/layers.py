"""The layers of MMAudio's network, written on foleyzoo's MM-DiT blocks where the math is the same.

What differs from :mod:`foleyzoo.mmdit.blocks`: LayerNorm eps 1e-5 and RMSNorm with the dtype's eps,
output projections that are kernel-3 convolutions over time (linear for text), SwiGLU feed-forwards
without bias, a kernel-7 convolution in the final layer, and rotary positions taken in interleaved
pairs. The last is absorbed at load time: the loader permutes the query and key rows (and their norm
weights) so that foleyzoo's half-split rotation computes exactly MMAudio's interleaved one.
Tensors are channel-last: (B, L, C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.mmdit.blocks import (
    FinalLayer,
    JointBlock,
    SingleBlock,
    Stream,
    StreamLayers,
    modulate,
    normalize_and_rotate,
)

__all__ = [
    "MMAudioFinalLayer",
    "MMAudioJointBlock",
    "MMAudioSingleBlock",
    "MMAudioStreamLayers",
    "SwiGLU",
    "SyncRateStream",
    "TimeConv1d",
    "half_split_order",
    "rotary_tables",
    "swiglu_width",
    "timestep_features",
]

LAYER_NORM_EPS = 1e-5
"""MMAudio's LayerNorms keep PyTorch's default eps (foleyzoo's MM-DiT uses 1e-6)."""


class TimeConv1d(nn.Conv1d):
    """A 1-D convolution over the time axis of channel-last tokens: (B, L, C_in) → (B, L, C_out)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def swiglu_width(hidden: int, multiple_of: int = 256) -> int:
    """Inner width of a SwiGLU asked for ``hidden`` units: ⌊2·hidden/3⌋ rounded up to ``multiple_of``."""
    inner = int(2 * hidden / 3)
    return multiple_of * math.ceil(inner / multiple_of)


class SwiGLU(nn.Module):
    """w2(SiLU(w1·x) ⊙ w3·x) without biases; w1, w2, w3 are linear (``kernel`` 1) or convolutions over time.

    (B, L, dim) → (B, L, dim), with ``swiglu_width(hidden)`` inner channels.
    """

    def __init__(self, dim: int, hidden: int, kernel: int = 1) -> None:
        super().__init__()
        inner = swiglu_width(hidden)
        if kernel == 1:
            self.w1, self.w2, self.w3 = (
                nn.Linear(dim, inner, bias=False),
                nn.Linear(inner, dim, bias=False),
                nn.Linear(dim, inner, bias=False),
            )
        else:
            padding = kernel // 2
            self.w1, self.w2, self.w3 = (
                TimeConv1d(dim, inner, kernel, padding=padding, bias=False),
                TimeConv1d(inner, dim, kernel, padding=padding, bias=False),
                TimeConv1d(dim, inner, kernel, padding=padding, bias=False),
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def timestep_features(t: Tensor, dim: int, frequency_scale: float) -> Tensor:
    """(B,) flow times → (B, dim) [cos, sin] features at frequencies scale / 10000^(2i/dim), in float32.

    MMAudio v1 uses dim 256 and scale 1 (t unscaled); v2 the hidden size and scale 1e4. The frequencies
    are computed in the same order of float32 operations as MMAudio's, so the features agree bit for bit
    (at scale 1e4 an ulp of a frequency moves the angle visibly).
    """
    exponents = torch.arange(0, dim, 2, dtype=torch.float32, device=t.device) / dim
    frequencies = frequency_scale * (1.0 / (10000**exponents))
    angles = t[:, None].float() * frequencies[None]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def rotary_tables(
    length: int, head_dim: int, scaling: float = 1.0, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """cos and sin tables (length, head_dim) in foleyzoo's half-split layout for MMAudio's positions.

    Position p (0, 1, …) turns pair i by p · scaling / 10000^(2i/head_dim), computed in float32 as MMAudio
    does; ``scaling`` is latent_len / clip_len for the CLIP stream, so both streams share one time axis.
    """
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim
    frequencies = 1.0 / (10000**exponents)
    frequencies *= scaling
    positions = torch.arange(length, dtype=torch.float32, device=device)
    angles = positions[:, None] * frequencies[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def half_split_order(head_dim: int) -> Tensor:
    """Index that reorders interleaved rotary pairs (0,1), (2,3), … into halves (0, 2, …, 1, 3, …).

    Rotating x[order] with the half-split rule equals rotating x with the interleaved rule, then
    reordering; applied to queries and keys alike it leaves every attention score unchanged.
    """
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])


@dataclass
class SyncRateStream(Stream):
    """The latent stream, whose condition varies only at the sync rate: (B, S, hidden) and ``rows`` (N,).

    Latent token i is modulated by condition row ``rows[i]`` (MMAudio repeats each sync feature over the
    latent frames it covers), so the adaLN layers run on the S distinct rows and their outputs are
    repeated, not recomputed, for the N ≥ S tokens: the same numbers for fewer multiply-adds.
    """

    rows: Tensor | None = None


class MMAudioStreamLayers(StreamLayers):
    """One stream of an MMAudio block: :class:`StreamLayers`' math with MMAudio's parts.

    ``finish`` is :class:`StreamLayers`' own; ``project`` is too, but for a :class:`SyncRateStream` it
    runs the adaLN layer on the distinct condition rows only.

    ``kernel`` 3 makes the output projection a convolution over time and the feed-forward a
    convolutional SwiGLU (latent and CLIP streams); ``kernel`` 1 makes both linear (text stream).
    ``pre_only`` keeps only what feeds attention (the context streams of the last joint block).
    The qkv rows are (q, k, v) × heads × head_dim with q and k in half-split rotary order (the loader
    reorders MMAudio's rows, which are heads × head_dim × (q, k, v) with interleaved pairs).
    """

    def __init__(
        self, hidden: int, heads: int, mlp_ratio: float, kernel: int, pre_only: bool = False
    ) -> None:
        nn.Module.__init__(self)  # StreamLayers' own layers differ: build these instead, same attribute names
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.pre_only = pre_only
        head_dim = hidden // heads
        self.norm_attention = nn.LayerNorm(hidden, elementwise_affine=False, eps=LAYER_NORM_EPS)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.q_norm = nn.RMSNorm(head_dim)  # eps None: the dtype's machine epsilon, as MMAudio
        self.k_norm = nn.RMSNorm(head_dim)
        self.modulation = nn.Linear(hidden, (2 if pre_only else 6) * hidden)
        if not pre_only:
            self.out = (
                nn.Linear(hidden, hidden)
                if kernel == 1
                else TimeConv1d(hidden, hidden, kernel, padding=kernel // 2)
            )
            self.norm_mlp = nn.LayerNorm(hidden, elementwise_affine=False, eps=LAYER_NORM_EPS)
            self.mlp = SwiGLU(hidden, int(hidden * mlp_ratio), kernel)

    def project(self, stream: Stream) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """:meth:`StreamLayers.project`, with a :class:`SyncRateStream`'s modulation computed once per distinct row."""
        modulation = self.modulation(stream.modulation_input())
        rows = getattr(stream, "rows", None)
        if rows is not None:
            modulation = modulation[:, rows]
        shift, scale, *rest = modulation.chunk(2 if self.pre_only else 6, -1)
        qkv = self.qkv(modulate(self.norm_attention(stream.x), shift, scale))
        batch, length, _ = qkv.shape
        q, k, v = qkv.view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q = normalize_and_rotate(q, self.q_norm, stream.rotary)
        k = normalize_and_rotate(k, self.k_norm, stream.rotary)
        return q, k, v, rest


class MMAudioJointBlock(JointBlock):
    """Joint attention over the latent, CLIP and text streams (kernels 3, 3 and 1); :class:`JointBlock` runs it.

    With ``pre_only`` (the last joint block) the CLIP and text streams only feed attention.
    """

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, pre_only: bool = False) -> None:
        nn.Module.__init__(self)
        self.layers = nn.ModuleList(
            [
                MMAudioStreamLayers(hidden, heads, mlp_ratio, kernel=3),
                MMAudioStreamLayers(hidden, heads, mlp_ratio, kernel=3, pre_only=pre_only),
                MMAudioStreamLayers(hidden, heads, mlp_ratio, kernel=1, pre_only=pre_only),
            ]
        )


class MMAudioSingleBlock(SingleBlock):
    """Self-attention over the latent tokens alone, with convolutional output and SwiGLU (kernel 3)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float) -> None:
        nn.Module.__init__(self)
        self.layers = MMAudioStreamLayers(hidden, heads, mlp_ratio, kernel=3)


class MMAudioFinalLayer(FinalLayer):
    """adaLN-modulated LayerNorm (eps 1e-5) and a kernel-7 convolution from hidden tokens to latent channels."""

    def __init__(self, hidden: int, out_dim: int) -> None:
        nn.Module.__init__(self)
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=LAYER_NORM_EPS)
        self.modulation = nn.Linear(hidden, 2 * hidden)
        self.out = TimeConv1d(hidden, out_dim, 7, padding=3)
