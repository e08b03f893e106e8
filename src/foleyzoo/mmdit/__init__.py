"""The MM-DiT denoiser: joint attention over audio, text and video tokens, with swappable attention backends."""

from __future__ import annotations

from foleyzoo.mmdit.attention import (
    ATTENTION_BACKENDS,
    NaiveAttention,
    SDPAAttention,
    XFormersAttention,
    attention_backend,
)
from foleyzoo.mmdit.network import MMDiT

__all__ = [
    "ATTENTION_BACKENDS",
    "MMDiT",
    "NaiveAttention",
    "SDPAAttention",
    "XFormersAttention",
    "attention_backend",
]
