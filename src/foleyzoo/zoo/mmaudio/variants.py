"""MMAudio's five released networks as data, and the sequence lengths MMAudio uses for a duration.

A variant is a width, a depth, the feature sizes of its encoders and the audio rate of its latents
(16 kHz with a hop of 256, or 44.1 kHz with a hop of 512, and two mel frames a latent). ``v2`` marks the
second generation (SiLU input projections, timestep features at the hidden size with frequencies ×1e4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from foleyzoo.errors import ConfigError

__all__ = ["VARIANTS", "MMAudioVariant", "SequenceLengths", "sequence_lengths", "variant"]

CLIP_RATE = 8.0
"""CLIP features a second (MMAudio's clip frame rate)."""

SYNC_FPS, SYNC_SEGMENT, SYNC_STEP = 25, 16, 8
"""Synchformer reads 16-frame segments of 25 fps video every 8 frames and emits 8 features a segment."""

SYNC_RATE = 24.0
"""Nominal sync features a second (192 in 8 s); MMAudio aligns them to the latents by count, not rate."""

TEXT_TOKENS = 77
"""CLIP text tokens a prompt, padding included: MMAudio's text stream always has this many."""


@dataclass(frozen=True)
class SequenceLengths:
    """Tokens of each stream for one duration: latent frames, CLIP frames and sync features."""

    latent: int
    clip: int
    sync: int


@dataclass(frozen=True)
class MMAudioVariant:
    """One released MMAudio network: its architecture and the audio its latents describe."""

    name: str
    latent_dim: int
    hidden: int
    heads: int
    joint_blocks: int
    single_blocks: int
    sample_rate: int
    hop: int
    v2: bool = False
    clip_dim: int = 1024
    sync_dim: int = 768
    text_dim: int = 1024
    text_tokens: int = TEXT_TOKENS
    mlp_ratio: float = 4.0

    @property
    def latent_rate(self) -> float:
        """Latent frames a second: two mel frames of ``hop`` samples each."""
        return self.sample_rate / self.hop / 2

    @property
    def file_name(self) -> str:
        """The name of the released weights file."""
        return f"mmaudio_{self.name}.pth"

    def architecture(self) -> dict[str, object]:
        """Keyword arguments of :class:`~foleyzoo.zoo.mmaudio.denoiser.MMAudioDenoiser` for this variant."""
        return {
            "latent_dim": self.latent_dim,
            "clip_dim": self.clip_dim,
            "sync_dim": self.sync_dim,
            "text_dim": self.text_dim,
            "hidden": self.hidden,
            "heads": self.heads,
            "joint_blocks": self.joint_blocks,
            "single_blocks": self.single_blocks,
            "mlp_ratio": self.mlp_ratio,
            "v2": self.v2,
            "latent_rate": self.latent_rate,
            "text_tokens": self.text_tokens,
        }


def _variant(
    name: str, latent_dim: int, heads: int, depth: int, fused: int, sample_rate: int, **kw
) -> MMAudioVariant:
    return MMAudioVariant(
        name=name,
        latent_dim=latent_dim,
        hidden=64 * heads,
        heads=heads,
        joint_blocks=depth - fused,
        single_blocks=fused,
        sample_rate=sample_rate,
        hop=256 if sample_rate == 16000 else 512,
        **kw,
    )


VARIANTS: dict[str, MMAudioVariant] = {
    v.name: v
    for v in (
        _variant("small_16k", 20, heads=7, depth=12, fused=8, sample_rate=16000),
        _variant("small_44k", 40, heads=7, depth=12, fused=8, sample_rate=44100),
        _variant("medium_44k", 40, heads=14, depth=12, fused=8, sample_rate=44100),
        _variant("large_44k", 40, heads=14, depth=21, fused=14, sample_rate=44100),
        _variant("large_44k_v2", 40, heads=14, depth=21, fused=14, sample_rate=44100, v2=True),
    )
}
"""The released variants by MMAudio's name: 64 dimensions a head, depth = joint + single blocks."""


def variant(name: str) -> MMAudioVariant:
    """The variant called ``name``; a clear error listing the known ones otherwise."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown MMAudio variant {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name]


def sequence_lengths(duration: float, latent_rate: float) -> SequenceLengths:
    """The token counts MMAudio uses for ``duration`` seconds (any duration, not only its 8 s).

    latent = ceil(duration · latent_rate), clip = ⌊8 · duration⌋ and sync = 8 features for each 16-frame
    segment of 25 fps video taken every 8 frames: 8 · (⌊(25 · duration − 16) / 8⌋ + 1), and at least one
    segment (a window shorter than 16 frames, 0.64 s, which MMAudio never sees, gets one segment's worth).
    """
    segments = max(1, (duration * SYNC_FPS - SYNC_SEGMENT) // SYNC_STEP + 1)
    return SequenceLengths(
        latent=math.ceil(duration * latent_rate),
        clip=int(duration * CLIP_RATE),
        sync=int(segments * SYNC_SEGMENT / 2),
    )
