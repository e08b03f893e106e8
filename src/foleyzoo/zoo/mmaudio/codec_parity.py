"""The cases on which foleyzoo's codec and vocoders are proven equal to MMAudio's: configurations and inputs.

Shared by the tests (which compare with outputs recorded once with MMAudio's code) and the comparison
script, so that both feed the two implementations the same weights and inputs. Weights come from
:func:`foleyzoo.zoo.testing.random_state_dict` (in MMAudio's names); inputs from a seed and a name.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.vocoders.bigvgan import BigVGANVocoder, drop_stored_filters
from foleyzoo.vocoders.weights import fold_weight_norm
from foleyzoo.zoo.mmaudio.codec import codec_variant, convert_vae_state_dict, stage_count
from foleyzoo.zoo.mmaudio.vocoder import BIGVGAN_V1_16K

__all__ = [
    "BIGVGAN_V2_44K_CONFIG",
    "VAE_CONFIGS",
    "VOCODER_CONFIGS",
    "VAEParityConfig",
    "VocoderParityConfig",
    "parity_codec",
    "parity_latents",
    "parity_mel",
    "parity_vocoder",
    "parity_waveform",
]

BIGVGAN_V2_44K_CONFIG: dict[str, Any] = {
    "resblock": "1",
    "upsample_rates": [8, 4, 2, 2, 2, 2],
    "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 1536,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
    "activation": "snakebeta",
    "snake_logscale": True,
    "num_mels": 128,
    "n_fft": 2048,
    "hop_size": 512,
    "win_size": 2048,
    "sampling_rate": 44100,
    "fmin": 0,
    "fmax": None,
}
"""The generator and mel keys of ``config.json`` of nvidia/bigvgan_v2_44khz_128band_512x (its training
keys left out), as published with the weights."""


@dataclass(frozen=True)
class VAEParityConfig:
    """An MMAudio VAE to compare on: the mel settings of ``variant`` with a latent size and a width."""

    name: str
    variant: str
    latent_dim: int
    hidden: int

    @property
    def n_mels(self) -> int:
        return codec_variant(self.variant).n_mels

    def codec_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :class:`EDM2MelVAE`."""
        return {
            **codec_variant(self.variant).codec_arguments(),
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
        }

    def mmaudio_arguments(self) -> dict[str, Any]:
        """Keyword arguments of MMAudio's ``VAE``."""
        return {"data_dim": self.n_mels, "embed_dim": self.latent_dim, "hidden_dim": self.hidden}

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VocoderParityConfig:
    """A BigVGAN to compare on: ``variant``'s mel settings and architecture with ``overrides``."""

    name: str
    variant: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int:
        """1 (MMAudio's 16 kHz BigVGAN, code ``mmaudio.ext.bigvgan``) or 2 (``mmaudio.ext.bigvgan_v2``)."""
        return 1 if self.variant == "16k" else 2

    def config(self) -> dict[str, Any]:
        """The architecture and mel settings with the official ``config.json`` names."""
        if self.variant == "16k":
            settings = codec_variant("16k")
            base = {key: _listed(value) for key, value in BIGVGAN_V1_16K.items()}
            base.update(
                num_mels=settings.n_mels,
                n_fft=settings.n_fft,
                hop_size=settings.hop_length,
                win_size=settings.n_fft,
                sampling_rate=settings.sample_rate,
                fmin=0,
                fmax=settings.f_max,
            )
        else:
            base = dict(BIGVGAN_V2_44K_CONFIG)
        return {**base, **self.overrides}

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _listed(value: Any) -> Any:
    return [_listed(item) for item in value] if isinstance(value, tuple) else value


VAE_CONFIGS: dict[str, VAEParityConfig] = {
    config.name: config
    for config in (
        VAEParityConfig("vae_tiny_16k", "16k", latent_dim=4, hidden=16),
        VAEParityConfig("vae_reduced_44k", "44k", latent_dim=40, hidden=48),
    )
}
"""A tiny VAE on the 16 kHz front-end and one of the 44.1 kHz codec's latent size at a reduced width."""

VOCODER_CONFIGS: dict[str, VocoderParityConfig] = {
    config.name: config
    for config in (
        VocoderParityConfig("bigvgan_tiny_16k", "16k", {"upsample_initial_channel": 128}),
        VocoderParityConfig("bigvgan_tiny_44k", "44k", {"upsample_initial_channel": 128}),
        VocoderParityConfig(
            "bigvgan_reduced_44k_snake_resblock2",
            "44k",
            {
                "upsample_initial_channel": 256,
                "activation": "snake",
                "resblock": "2",
                "use_bias_at_final": True,
            },
        ),
    )
}
"""Both released designs at a tiny width, and BigVGAN's other options (Snake, AMP block 2, a final bias)."""


def _generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))


def parity_waveform(sample_rate: int, seconds: float, batch: int = 2, seed: int = 0) -> Tensor:
    """(batch, N) test audio: tones with noise, a clipped stretch above 1 and a silent one (the floor)."""
    count = round(seconds * sample_rate)
    generator = _generator(seed, "waveform")
    time = torch.arange(count) / sample_rate
    frequencies = 100 + 3000 * torch.rand(batch, 3, 1, generator=generator)
    tones = torch.sin(2 * math.pi * frequencies * time).sum(1) / 3
    audio = 0.5 * tones + 0.05 * torch.randn(batch, count, generator=generator)
    audio[:, count // 8 : count // 6] *= 3.0  # beyond ±1: the front-end clamps
    audio[:, count // 2 : count // 2 + count // 10] = 0.0  # silence: the log floor
    return audio


def parity_latents(latent_dim: int, frames: int, batch: int = 2, seed: int = 0) -> Tensor:
    """(batch, frames, latent_dim) latents to decode (foleyzoo's layout)."""
    return torch.randn(batch, frames, latent_dim, generator=_generator(seed, "latents"))


def parity_mel(n_mels: int, frames: int, batch: int = 2, seed: int = 0) -> Tensor:
    """(batch, n_mels, frames) log-mel-like values to vocode (about −3 ± 1.5)."""
    return 1.5 * torch.randn(batch, n_mels, frames, generator=_generator(seed, "mel")) - 3.0


def parity_codec(config: VAEParityConfig, state: dict[str, Tensor]) -> EDM2MelVAE:
    """:class:`EDM2MelVAE` of ``config`` loaded strictly with ``state`` in MMAudio's names, in eval mode."""
    codec = EDM2MelVAE(**config.codec_arguments())
    converted = {
        f"vae.{key}": value for key, value in convert_vae_state_dict(state, stage_count(state)).items()
    }
    converted.update(latent_mean=codec.latent_mean, latent_std=codec.latent_std)
    codec.load_state_dict(converted, strict=True)
    return codec.eval()


def parity_vocoder(config: VocoderParityConfig, state: dict[str, Tensor]) -> BigVGANVocoder:
    """:class:`BigVGANVocoder` of ``config`` loaded strictly with an official ``state`` (weight norm folded)."""
    vocoder = BigVGANVocoder.from_config(config.config(), log10=config.variant == "16k")
    params, _ = drop_stored_filters(fold_weight_norm(state))
    vocoder.load_state_dict({f"generator.{key}": value for key, value in params.items()}, strict=True)
    return vocoder.eval()
