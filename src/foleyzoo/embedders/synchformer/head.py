"""Synchformer's offset classifier: visual and audio features of 14 segments → 21 offset logits.

The two streams are projected (``vproj``, ``aproj``), layer-normed separately and joined into one
sequence ``[OFF] v₁ … v₁₁₂ [MOD] a₁ … a₈₄`` with learned positions (198 of them, so exactly 14 segments
of 8 visual and 6 audio features); three pre-norm transformer blocks follow, and the ``[OFF]`` token's
output, after a final norm, is classified into the 21 offsets of :func:`offset_grid` (−2 … 2 s in 0.2 s).
The modules carry the published ``transformer.*`` names.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

__all__ = ["OFFSET_CLASSES", "WINDOW_SEGMENTS", "OffsetTransformer", "offset_grid"]

DIM, HEADS, BLOCKS = 768, 8, 3
WINDOW_SEGMENTS = 14
"""Segments the classifier compares at once (4.8 s): its position table is sized for exactly these."""
VISUAL_PER_SEGMENT, AUDIO_PER_SEGMENT = 8, 6
OFFSET_CLASSES = 21
SEQUENCE = 2 + WINDOW_SEGMENTS * (VISUAL_PER_SEGMENT + AUDIO_PER_SEGMENT)


def offset_grid() -> Tensor:
    """The 21 offsets (seconds) the classes stand for: ``linspace(−2, 2, 21)`` (float64 → float32)."""
    return torch.from_numpy(np.linspace(-2.0, 2.0, OFFSET_CLASSES)).float()


class HeadAttention(nn.Module):
    """Multi-head self-attention with separate ``query``/``key``/``value`` projections and ``proj``."""

    def __init__(self) -> None:
        super().__init__()
        self.key = nn.Linear(DIM, DIM)
        self.query = nn.Linear(DIM, DIM)
        self.value = nn.Linear(DIM, DIM)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = (
            rearrange(proj(x), "b l (h d) -> b h l d", h=HEADS) for proj in (self.query, self.key, self.value)
        )
        return self.proj(rearrange(F.scaled_dot_product_attention(q, k, v), "b h l d -> b l (h d)"))


class HeadBlock(nn.Module):
    """Pre-norm block: ``ln1`` → attention, ``ln2`` → ``mlp`` (Linear, GELU, Linear), both residual."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM)
        self.ln2 = nn.LayerNorm(DIM)
        self.attn = HeadAttention()
        self.mlp = nn.Sequential(nn.Linear(DIM, 4 * DIM), nn.GELU(), nn.Linear(4 * DIM, DIM))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class LearnedPositions(nn.Module):
    """One learned vector per sequence position, added to the tokens (``pos_emb_cfg.pos_emb``)."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, length, DIM))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pos_emb


class OffsetTransformer(nn.Module):
    """``transformer``: projected visual (B, 112, D) and audio (B, 84, D) tokens → offset logits (B, 21)."""

    def __init__(self) -> None:
        super().__init__()
        self.vis_in_lnorm = nn.LayerNorm(DIM)
        self.aud_in_lnorm = nn.LayerNorm(DIM)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, DIM))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_emb_cfg = LearnedPositions(SEQUENCE)
        self.blocks = nn.Sequential(*(HeadBlock() for _ in range(BLOCKS)))
        self.ln_f = nn.LayerNorm(DIM)
        self.off_head = nn.Linear(DIM, OFFSET_CLASSES)

    def forward(self, visual: Tensor, audio: Tensor) -> Tensor:
        batch = visual.shape[0]
        x = torch.cat(
            [
                self.OFF_tok.expand(batch, -1, -1),
                self.vis_in_lnorm(visual),
                self.MOD_tok.expand(batch, -1, -1),
                self.aud_in_lnorm(audio),
            ],
            dim=1,
        )
        if x.shape[1] != SEQUENCE:
            raise ValueError(
                f"the offset classifier reads {WINDOW_SEGMENTS} segments ({SEQUENCE} tokens), got {x.shape[1]} tokens"
            )
        x = self.ln_f(self.blocks(self.pos_emb_cfg(x)))
        return self.off_head(x[:, 0])
