"""The cases on which MMAudioDenoiser is proven equal to MMAudio's own network: configurations, inputs, scenarios.

Shared by the tests (which compare with outputs recorded once with MMAudio's code), the comparison script
and the speed benchmark, so that all three feed both networks the same weights and inputs. Inputs and
weights are drawn from seeds (each tensor from the seed and its name alone).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures
from foleyzoo.zoo.mmaudio.convert import convert_state_dict
from foleyzoo.zoo.mmaudio.denoiser import MMAudioDenoiser
from foleyzoo.zoo.mmaudio.variants import (
    CLIP_RATE,
    SYNC_RATE,
    TEXT_TOKENS,
    SequenceLengths,
    sequence_lengths,
    variant,
)

__all__ = [
    "CONFIGS",
    "SCENARIOS",
    "ParityConfig",
    "ParityInputs",
    "parity_conditions",
    "parity_denoiser",
    "parity_inputs",
]


@dataclass(frozen=True)
class ParityConfig:
    """An MMAudio architecture to compare on: sizes, depth, generation (``v2``) and audio rate."""

    name: str
    latent_dim: int
    clip_dim: int
    sync_dim: int
    text_dim: int
    hidden: int
    heads: int
    joint_blocks: int
    single_blocks: int
    v2: bool
    sample_rate: int
    text_tokens: int = TEXT_TOKENS

    @property
    def latent_rate(self) -> float:
        """Latent frames a second (hop 256 at 16 kHz, 512 at 44.1 kHz, two mel frames a latent)."""
        return self.sample_rate / (256 if self.sample_rate == 16000 else 512) / 2

    def lengths(self, duration: float) -> SequenceLengths:
        return sequence_lengths(duration, self.latent_rate)

    def architecture(self) -> dict[str, Any]:
        """Keyword arguments of :class:`MMAudioDenoiser`."""
        return {
            "latent_dim": self.latent_dim,
            "clip_dim": self.clip_dim,
            "sync_dim": self.sync_dim,
            "text_dim": self.text_dim,
            "hidden": self.hidden,
            "heads": self.heads,
            "joint_blocks": self.joint_blocks,
            "single_blocks": self.single_blocks,
            "v2": self.v2,
            "latent_rate": self.latent_rate,
            "text_tokens": self.text_tokens,
        }

    def mmaudio_arguments(self, duration: float) -> dict[str, Any]:
        """Keyword arguments of MMAudio's ``MMAudio`` network for clips of ``duration`` seconds."""
        lengths = self.lengths(duration)
        return {
            "latent_dim": self.latent_dim,
            "clip_dim": self.clip_dim,
            "sync_dim": self.sync_dim,
            "text_dim": self.text_dim,
            "hidden_dim": self.hidden,
            "depth": self.joint_blocks + self.single_blocks,
            "fused_depth": self.single_blocks,
            "num_heads": self.heads,
            "latent_seq_len": lengths.latent,
            "clip_seq_len": lengths.clip,
            "sync_seq_len": lengths.sync,
            "text_seq_len": self.text_tokens,
            "v2": self.v2,
        }

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of_variant(cls, variant_name: str, **overrides: Any) -> ParityConfig:
        """A released variant's configuration, optionally with fewer blocks (``joint_blocks``, ``single_blocks``)."""
        spec = variant(variant_name)
        base = cls(
            name=variant_name,
            latent_dim=spec.latent_dim,
            clip_dim=spec.clip_dim,
            sync_dim=spec.sync_dim,
            text_dim=spec.text_dim,
            hidden=spec.hidden,
            heads=spec.heads,
            joint_blocks=spec.joint_blocks,
            single_blocks=spec.single_blocks,
            v2=spec.v2,
            sample_rate=spec.sample_rate,
        )
        return replace(base, **overrides)


_TINY = dict(
    latent_dim=6, clip_dim=10, sync_dim=12, text_dim=14, hidden=64, heads=2, joint_blocks=2, single_blocks=1
)

CONFIGS: dict[str, ParityConfig] = {
    config.name: config
    for config in (
        ParityConfig("tiny_v1_16k", **_TINY, v2=False, sample_rate=16000, text_tokens=7),
        ParityConfig("tiny_v2_44k", **_TINY, v2=True, sample_rate=44100, text_tokens=7),
        ParityConfig.of_variant("small_16k", name="small_16k_shallow", joint_blocks=2, single_blocks=1),
        ParityConfig.of_variant("large_44k_v2", name="large_44k_v2_shallow", joint_blocks=1, single_blocks=1),
    )
}
"""Tiny configurations of every block type (v1 at 16 kHz, v2 at 44.1 kHz: two joint blocks, the last
context-pre-only, and a single block) and two of real width with fewer blocks."""

SCENARIOS: dict[str, dict[str, Any]] = {
    "all": {},
    "text_only": {"visual": None, "sync": None},
    "no_text": {"text": None},
    "nothing": {"visual": None, "sync": None, "text": None},
    "rows": {"visual": (False, True), "sync": (True, False), "text": (True, False)},
}
"""Which modalities each case leaves out: None for the whole batch, or (present?) for each of two rows.
MMAudio's side of a case gets its empty features there (``get_empty_*_sequence``)."""


@dataclass(frozen=True)
class ParityInputs:
    """One batch: latents x (B, N, C), times t (B,), raw CLIP (B, Lc, Dc), sync (B, S, Ds), text (B, 77, Dt) features
    and a negative prompt's text features (B, 77, Dt)."""

    x: Tensor
    t: Tensor
    clip: Tensor
    sync: Tensor
    text: Tensor
    negative: Tensor
    duration: float


def _draw(name: str, seed: int, *shape: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    return torch.rand(shape, generator=generator) if name == "t" else torch.randn(shape, generator=generator)


def parity_inputs(config: ParityConfig, duration: float, batch: int = 2, seed: int = 0) -> ParityInputs:
    """Random inputs of ``config``'s sizes for ``duration`` seconds, each tensor from ``seed`` and its name."""
    lengths = config.lengths(duration)
    return ParityInputs(
        x=_draw("x", seed, batch, lengths.latent, config.latent_dim),
        t=_draw("t", seed, batch),
        clip=_draw("clip", seed, batch, lengths.clip, config.clip_dim),
        sync=_draw("sync", seed, batch, lengths.sync, config.sync_dim),
        text=_draw("text", seed, batch, config.text_tokens, config.text_dim),
        negative=_draw("negative", seed, batch, config.text_tokens, config.text_dim),
        duration=duration,
    )


def _rows(present: tuple[bool, ...], length: int) -> Tensor:
    return torch.tensor(present)[:, None].expand(-1, length).contiguous()


def parity_conditions(inputs: ParityInputs, scenario: str, with_duration: bool = False) -> Conditions:
    """foleyzoo's conditions for a scenario: absent modalities None, absent rows masked out entirely.

    Text comes with an all-True mask and its mean as the pooled vector, as a CLIP text encoder would give it.
    ``with_duration`` also states the clip's length, which then sizes modalities absent from the whole batch.
    """
    leave_out = SCENARIOS[scenario]
    batch = inputs.x.shape[0]
    fields: dict[str, Any] = {}
    for name, values, rate in (("visual", inputs.clip, CLIP_RATE), ("sync", inputs.sync, SYNC_RATE)):
        rows = leave_out.get(name, ())
        if rows is None:
            fields[name] = None
        else:
            mask = _rows(rows, values.shape[1]) if rows else None
            fields[name] = FrameFeatures(values, fps=rate, mask=mask)
    rows = leave_out.get("text", ())
    if rows is None:
        fields["text"] = None
    else:
        mask = (
            _rows(rows, inputs.text.shape[1]) if rows else torch.ones(inputs.text.shape[:2], dtype=torch.bool)
        )
        fields["text"] = TextFeatures(tokens=inputs.text, mask=mask, pooled=inputs.text.mean(1))
    duration = torch.tensor([[0.0, inputs.duration]] * batch) if with_duration else None
    return Conditions(**fields, duration=duration)


def parity_denoiser(config: ParityConfig, state: dict[str, Tensor]) -> MMAudioDenoiser:
    """:class:`MMAudioDenoiser` of ``config`` loaded strictly with ``state`` in MMAudio's names, in eval mode.

    Built on the meta device first, so no time goes into initialising weights that are replaced.
    """
    with torch.device("meta"):
        model = MMAudioDenoiser(**config.architecture())
    model = model.to_empty(device="cpu")
    target = {key: value.shape for key, value in model.state_dict().items()}
    model.load_state_dict(convert_state_dict(state, config.heads, target), strict=True)
    return model.eval()
