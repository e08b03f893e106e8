"""MM-DiT blocks: adaLN-zero modulated streams, joint attention over several streams, audio-only blocks.

Each modality keeps its own weights (SD3's MM-DiT): a :class:`StreamLayers` per stream projects its
tokens to queries, keys and values; a :class:`JointBlock` concatenates them so every token attends to
every other, then each stream takes its own slice back through its own output projection and MLP.
Modulation comes from a conditioning vector per token (B, L, hidden) or per sequence (B, 1, hidden):
the audio stream's carries the sync features frame by frame, the others only the global vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import AttentionBackend
from foleyzoo.mmdit.rope import apply_rotary


@dataclass
class Stream:
    """One modality's tokens inside a block.

    ``x`` (B, L, hidden); ``mask`` (B, L) True for real tokens, None when all are (attention then needs no
    mask, which lets fused kernels run); ``condition`` (B, L or 1, hidden) drives
    the adaLN modulation; ``rotary`` the (cos, sin) tables (L, head_dim) or None for no positions (text).
    """

    x: Tensor
    mask: Tensor | None
    condition: Tensor
    rotary: tuple[Tensor, Tensor] | None = None


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x·(1 + scale) + shift."""
    return x * (1 + scale) + shift


class FeedForward(nn.Sequential):
    """The transformer MLP: hidden → ratio·hidden → GELU(tanh) → hidden."""

    def __init__(self, hidden: int, ratio: float) -> None:
        inner = int(hidden * ratio)
        super().__init__(nn.Linear(hidden, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, hidden))


class StreamLayers(nn.Module):
    """One stream's own weights in a block: adaLN-zero modulation, QKV with QK-norm, output and MLP.

    ``pre_only`` keeps just the part that feeds attention (the context streams of the last joint block,
    whose outputs nothing reads, as in SD3).
    """

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, pre_only: bool = False) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.pre_only = pre_only
        head_dim = hidden // heads
        self.norm_attention = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.q_norm = nn.RMSNorm(head_dim, eps=1e-6)
        self.k_norm = nn.RMSNorm(head_dim, eps=1e-6)
        self.modulation = nn.Linear(hidden, (2 if pre_only else 6) * hidden)
        nn.init.zeros_(self.modulation.weight)  # adaLN-zero: every block starts as the identity
        nn.init.zeros_(self.modulation.bias)
        if not pre_only:
            self.out = nn.Linear(hidden, hidden)
            self.norm_mlp = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
            self.mlp = FeedForward(hidden, mlp_ratio)

    def project(self, stream: Stream) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
        """Queries, keys, values (B, H, L, head_dim) of the modulated tokens, and the remaining modulation."""
        shift, scale, *rest = self.modulation(F.silu(stream.condition)).chunk(2 if self.pre_only else 6, -1)
        qkv = self.qkv(modulate(self.norm_attention(stream.x), shift, scale))
        batch, length, _ = qkv.shape
        q, k, v = qkv.view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q = apply_rotary(self.q_norm(q), stream.rotary)
        k = apply_rotary(self.k_norm(k), stream.rotary)
        return q, k, v, rest

    def finish(self, stream: Stream, attended: Tensor, rest: list[Tensor]) -> Tensor:
        """Residual updates from the attention output (B, L, hidden) and the MLP, each gated (adaLN-zero)."""
        gate_attention, shift, scale, gate_mlp = rest
        x = stream.x + gate_attention * self.out(attended)
        return x + gate_mlp * self.mlp(modulate(self.norm_mlp(x), shift, scale))


def _joint_mask(streams: list[Stream]) -> Tensor | None:
    """The concatenated key mask of the streams, or None when every token of every stream is real."""
    if all(stream.mask is None for stream in streams):
        return None
    return torch.cat(
        [
            stream.mask
            if stream.mask is not None
            else torch.ones(stream.x.shape[:2], dtype=torch.bool, device=stream.x.device)
            for stream in streams
        ],
        dim=1,
    )


def _merge_heads(x: Tensor) -> Tensor:
    """(B, H, L, D) → (B, L, H·D)."""
    return x.transpose(1, 2).flatten(2)


class JointBlock(nn.Module):
    """Joint attention over several streams (audio first), each with its own weights (SD3 MM-DiT).

    Returns the updated streams' tokens; with ``context_pre_only`` only the first (audio) stream's.
    """

    def __init__(
        self, hidden: int, heads: int, mlp_ratio: float, streams: int, context_pre_only: bool = False
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            StreamLayers(hidden, heads, mlp_ratio, pre_only=context_pre_only and index > 0)
            for index in range(streams)
        )

    def forward(self, streams: list[Stream], attention: AttentionBackend) -> list[Tensor]:
        projected = [layers.project(stream) for layers, stream in zip(self.layers, streams, strict=True)]
        q, k, v = (torch.cat([p[index] for p in projected], dim=2) for index in range(3))
        attended = attention.attend(q, k, v, key_padding_mask=_joint_mask(streams))
        lengths = [stream.x.shape[1] for stream in streams]
        outputs = []
        for layers, stream, piece, (*_, rest) in zip(
            self.layers, streams, attended.split(lengths, dim=2), projected, strict=True
        ):
            if not layers.pre_only:
                outputs.append(layers.finish(stream, _merge_heads(piece), rest))
        return outputs


class SingleBlock(nn.Module):
    """A DiT block over the audio tokens alone: self-attention with key padding, then the MLP."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.layers = StreamLayers(hidden, heads, mlp_ratio)

    def forward(self, stream: Stream, attention: AttentionBackend) -> Tensor:
        q, k, v, rest = self.layers.project(stream)
        attended = attention.attend(q, k, v, key_padding_mask=stream.mask)
        return self.layers.finish(stream, _merge_heads(attended), rest)


class FinalLayer(nn.Module):
    """adaLN-modulated norm and a zero-initialised projection from hidden tokens to latent channels."""

    def __init__(self, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Linear(hidden, 2 * hidden)
        self.out = nn.Linear(hidden, out_dim)
        for layer in (self.modulation, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        shift, scale = self.modulation(F.silu(condition)).chunk(2, dim=-1)
        return self.out(modulate(self.norm(x), shift, scale))
