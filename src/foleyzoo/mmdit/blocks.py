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


@dataclass
class Stream:
    """One modality's tokens inside a block.

    ``x`` (B, L, hidden); ``mask`` (B, L) True for real tokens, None when all are (attention then needs no
    mask, which lets fused kernels run); ``condition`` (B, L or 1, hidden) drives
    the adaLN modulation; ``rotary`` the (cos, sin) tables (L, head_dim) or None for no positions (text).
    ``activated`` is SiLU(condition) when the caller computed it once for every block (else each block does).
    """

    x: Tensor
    mask: Tensor | None
    condition: Tensor
    rotary: tuple[Tensor, Tensor] | None = None
    activated: Tensor | None = None

    def modulation_input(self) -> Tensor:
        """SiLU(condition): what every adaLN linear layer reads."""
        return self.activated if self.activated is not None else F.silu(self.condition)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x·(1 + scale) + shift (one fused multiply-add)."""
    return torch.addcmul(shift, x, 1 + scale)


def gated_residual(x: Tensor, gate: Tensor, update: Tensor) -> Tensor:
    """adaLN-zero's residual: x + gate·update (one fused multiply-add)."""
    return torch.addcmul(x, gate, update)


def normalize_and_rotate(x: Tensor, norm: nn.RMSNorm, rotary: tuple[Tensor, Tensor] | None) -> Tensor:
    """``apply_rotary(norm(x), rotary)`` for x (B, H, L, D), in float32 (or wider), in fewer passes over x.

    The rotation is x·cos + rotate_half(x)·sin with rotate_half(x) = (−x₂, x₁) = roll(x)·sign. RMSNorm's
    per-channel weight w and per-vector factor r = 1/√(mean(x²) + eps) commute with it:
    rotate_half(x·w·r) = roll(x)·sign·roll(w)·r. So w goes into the small (L, D) cos and sin tables, r
    multiplies once at the end, and x is read by one norm, one multiply, one roll and one multiply-add
    (instead of RMSNorm's own passes, then a negate and a concatenation). The weights are the same
    ``q_norm``/``k_norm`` parameters: checkpoints load unchanged, results agree to float rounding.
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    x32 = x.to(dtype)
    dim = x.shape[-1]
    eps = norm.eps if norm.eps is not None else torch.finfo(x.dtype).eps
    scale = torch.rsqrt(torch.linalg.vector_norm(x32, dim=-1, keepdim=True).square() / dim + eps)
    weight = norm.weight.to(dtype) if norm.weight is not None else None
    if rotary is None:
        normalized = x32 * scale
        return (normalized if weight is None else normalized * weight).to(x.dtype)
    cos, sin = rotary
    half = dim // 2
    cos, sin = cos.to(dtype), sin.to(dtype)
    sign = torch.ones(dim, dtype=dtype, device=sin.device)
    sign[:half] = -1.0
    turned_sin = sin * sign
    if weight is not None:
        cos, turned_sin = cos * weight, turned_sin * weight.roll(half)
    return (torch.addcmul(x32 * cos, x32.roll(half, dims=-1), turned_sin) * scale).to(x.dtype)


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
        shift, scale, *rest = self.modulation(stream.modulation_input()).chunk(2 if self.pre_only else 6, -1)
        qkv = self.qkv(modulate(self.norm_attention(stream.x), shift, scale))
        batch, length, _ = qkv.shape
        q, k, v = qkv.view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q = normalize_and_rotate(q, self.q_norm, stream.rotary)
        k = normalize_and_rotate(k, self.k_norm, stream.rotary)
        return q, k, v, rest

    def finish(self, stream: Stream, attended: Tensor, rest: list[Tensor]) -> Tensor:
        """Residual updates from the attention output (B, L, hidden) and the MLP, each gated (adaLN-zero)."""
        gate_attention, shift, scale, gate_mlp = rest
        x = gated_residual(stream.x, gate_attention, self.out(attended))
        return gated_residual(x, gate_mlp, self.mlp(modulate(self.norm_mlp(x), shift, scale)))


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

    def forward(self, x: Tensor, condition: Tensor, activated: Tensor | None = None) -> Tensor:
        """Velocity tokens from the last hidden tokens; ``activated`` is SiLU(condition) if already computed."""
        activated = activated if activated is not None else F.silu(condition)
        shift, scale = self.modulation(activated).chunk(2, dim=-1)
        return self.out(modulate(self.norm(x), shift, scale))
