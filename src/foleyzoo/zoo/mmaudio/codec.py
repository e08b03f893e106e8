"""MMAudio's two mel-VAEs as :class:`~foleyzoo.codecs.edm2_codec.EDM2MelVAE`: their settings and the key table.

``16k``: 16 kHz, n_fft 1024, hop 256, 80 Slaney mels up to 8 kHz, log10; 20 latent channels, width 384
(file ``v1-16.pth``). ``44k``: 44.1 kHz, n_fft 2048, hop 512, 128 mels up to 22.05 kHz, natural log;
40 channels, width 512 (``v1-44.pth``). Both: reflect padding of (n_fft − hop) / 2 and no centring,
magnitudes sqrt(re² + im² + 1e-9), floor 1e-5, input clamped to [−1, 1]; widths × (1, 2, 4), two blocks
a stage, one ×2 resampling (latents at 31.25 and 43.07 a second).

Names: a module path of MMAudio's ``VAE`` maps to one of :class:`~foleyzoo.codecs.edm2_vae.EDM2VAENetwork`
(``{i}`` a stage, ``{j}`` a block; ``{~i}`` is stage ``levels − 1 − i``, the decoder's stages running in
the reverse order of MMAudio's indices). Layouts: every convolution weight has its magnitude-preserving
normalisation folded in (:func:`~foleyzoo.codecs.edm2.fold_weight`); the attention's ``qkv`` rows go from
MMAudio's channel × (q, k, v) to (q, k, v) × channel; the mel statistics lose their singleton dimensions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from foleyzoo.codecs.edm2 import fold_weight
from foleyzoo.errors import ConfigError

__all__ = [
    "CODEC_VARIANTS",
    "MODULES",
    "TENSORS",
    "CodecVariant",
    "codec_key",
    "codec_variant",
    "convert_vae_state_dict",
    "stage_count",
    "vae_name_table",
]


@dataclass(frozen=True)
class CodecVariant:
    """One released MMAudio VAE: its mel front-end and its architecture."""

    name: str
    file: str
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    f_max: float
    log10: bool
    latent_dim: int
    hidden: int

    def codec_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~foleyzoo.codecs.edm2_codec.EDM2MelVAE` for this variant."""
        return {
            **self.mel_arguments(),
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "multipliers": (1, 2, 4),
            "blocks": 2,
            "resample_stages": (0,),
        }

    def mel_arguments(self) -> dict[str, Any]:
        """The front-end's settings, as :class:`~foleyzoo.codecs.mel.MelConfig` keyword arguments."""
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "n_mels": self.n_mels,
            "f_min": 0.0,
            "f_max": self.f_max,
            "log10": self.log10,
            "center": False,
            "magnitude_eps": 1e-9,
            "clamp_input": True,
        }


CODEC_VARIANTS: dict[str, CodecVariant] = {
    "16k": CodecVariant("16k", "v1-16.pth", 16000, 1024, 256, 80, 8000.0, True, 20, 384),
    "44k": CodecVariant("44k", "v1-44.pth", 44100, 2048, 512, 128, 22050.0, False, 40, 512),
}
"""MMAudio's codecs by the name its code gives them (``get_my_vae``/``get_mel_converter`` modes)."""


def codec_variant(name: str) -> CodecVariant:
    """The codec variant called ``name``; a clear error listing the known ones otherwise."""
    if name not in CODEC_VARIANTS:
        raise ConfigError(f"unknown MMAudio codec variant {name!r}; known: {', '.join(CODEC_VARIANTS)}")
    return CODEC_VARIANTS[name]


MODULES: tuple[tuple[str, str], ...] = (
    ("encoder.conv_in", "encoder.input"),
    ("encoder.down.{i}.block.{j}", "encoder.stages.{i}.blocks.{j}"),
    ("encoder.down.{i}.downsample", "encoder.stages.{i}.resample"),
    ("encoder.mid.block_1", "encoder.middle.block1"),
    ("encoder.mid.attn_1", "encoder.middle.attention"),
    ("encoder.mid.block_2", "encoder.middle.block2"),
    ("encoder.conv_out", "encoder.output"),
    ("decoder.conv_in", "decoder.input"),
    ("decoder.mid.block_1", "decoder.middle.block1"),
    ("decoder.mid.attn_1", "decoder.middle.attention"),
    ("decoder.mid.block_2", "decoder.middle.block2"),
    ("decoder.up.{i}.block.{j}", "decoder.stages.{~i}.blocks.{j}"),
    ("decoder.up.{i}.upsample", "decoder.stages.{~i}.resample"),
    ("decoder.conv_out", "decoder.output"),
)
"""MMAudio module path → foleyzoo module path (below ``vae``); the parts below are renamed by PARTS."""

PARTS: tuple[tuple[str, str], ...] = (
    ("nin_shortcut", "skip"),
    ("proj_out", "out"),
)
"""Inside a module: MMAudio's part → foleyzoo's (every other part keeps its name)."""

TENSORS: tuple[tuple[str, str], ...] = (
    ("data_mean", "mel_mean"),
    ("data_std", "mel_std"),
    ("encoder.learnable_gain", "encoder.output_gain"),
    ("decoder.learnable_gain", "decoder.output_gain"),
)
"""Whole tensors renamed (the mel statistics also lose MMAudio's singleton dimensions)."""

_TENSORS = dict(TENSORS)
_PARTS = dict(PARTS)


def _pattern(path: str) -> re.Pattern[str]:
    escaped = re.escape(path).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{j\}", r"(?P<j>\d+)")
    return re.compile(escaped + r"\.(?P<rest>.+)")


_RULES = tuple((_pattern(source), target) for source, target in MODULES)


def codec_key(key: str, levels: int = 3) -> str:
    """foleyzoo's name (below ``vae``) of MMAudio's VAE parameter ``key``; KeyError for an unknown one.

    ``levels`` is the number of stages (widths); it places the decoder's stages.
    """
    if key in _TENSORS:
        return _TENSORS[key]
    for pattern, target in _RULES:
        match = pattern.fullmatch(key)
        if match is None:
            continue
        groups = match.groupdict()
        name = target
        if groups.get("i") is not None:
            index = int(groups["i"])
            name = name.replace("{~i}", str(levels - 1 - index)).replace("{i}", str(index))
        if groups.get("j") is not None:
            name = name.replace("{j}", groups["j"])
        part, dot, leaf = groups["rest"].partition(".")
        rest = f"{_PARTS.get(part, part)}{dot}{leaf}"
        return f"{name}.{rest}"
    raise KeyError(f"no foleyzoo name for MMAudio VAE parameter {key!r}")


def _qkv_rows(weight: Tensor) -> Tensor:
    """MMAudio's qkv rows (channel c, part j at row 3c + j) → foleyzoo's (row j · C + c)."""
    channels = weight.shape[0] // 3
    return weight.reshape(channels, 3, *weight.shape[1:]).transpose(0, 1).reshape(weight.shape)


def convert_vae_state_dict(state: Mapping[str, Tensor], levels: int = 3) -> dict[str, Tensor]:
    """MMAudio's VAE state dict → :class:`~foleyzoo.codecs.edm2_vae.EDM2VAENetwork`'s (names, folded weights)."""
    converted: dict[str, Tensor] = {}
    for key, value in state.items():
        name = codec_key(key, levels)
        if key in ("data_mean", "data_std"):
            value = value.reshape(-1)
        elif name.endswith(".weight"):
            value = fold_weight(value) if value.device.type != "meta" else value
            if name.endswith("attention.qkv.weight"):
                value = _qkv_rows(value)
        converted[name] = value
    return converted


def vae_name_table() -> list[tuple[str, str]]:
    """(MMAudio name, foleyzoo name) rows for the docs: modules, parts inside them, whole tensors."""
    parts = [(f"…{source}", f"…{target}") for source, target in PARTS]
    return [*MODULES, *parts, *TENSORS]


def stage_count(state: Mapping[str, Any]) -> int:
    """Encoder stages (``encoder.down.{i}``) in an MMAudio VAE state dict: 3 in both released files."""
    indices = {int(m.group(1)) for key in state if (m := re.match(r"encoder\.down\.(\d+)\.", key))}
    return max(indices) + 1 if indices else 0
