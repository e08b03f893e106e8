"""The BigVGAN vocoders MMAudio renders its mels with, as :class:`~foleyzoo.vocoders.bigvgan.BigVGANVocoder`.

``16k``: BigVGAN v1 from Make-An-Audio 2 (``best_netG.pt``, ``{"generator": state_dict}``): upsampling
4, 4, 2, 2, 2, 2 with kernels 8, 8, 4, 4, 4, 4 from 1536 channels, AMP blocks of kernels 3, 7, 11 and
dilations 1, 3, 5, SnakeBeta (log-scale parameters), tanh at the end; it reads the 16 kHz codec's log10
mels (its architecture is MMAudio's ``bigvgan_vocoder.yml``, its mel settings MMAudio's 16 kHz front-end).
``44k``: NVIDIA's ``bigvgan_v2_44khz_128band_512x`` (a folder with ``config.json`` and
``bigvgan_generator.pt``), its architecture read from ``config.json`` (8, 4, 2, 2, 2, 2 with kernels
16, 8, 4, 4, 4, 4; no final tanh, no final bias, output clamped); the config's mel settings must be the
44.1 kHz codec's (natural log). Weight-norm pairs are folded at load; the resampling filters the files
store are compared with the ones foleyzoo computes, then dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from foleyzoo.errors import ConfigError
from foleyzoo.vocoders.alias_free import DownSample1d, UpSample1d, resampling_filter
from foleyzoo.vocoders.bigvgan import BigVGANVocoder, config_arguments, drop_stored_filters, read_config
from foleyzoo.vocoders.weights import fold_weight_norm
from foleyzoo.zoo.mmaudio.codec import codec_variant
from foleyzoo.zoo.mmaudio.loader import read_state_dict, verify_file
from foleyzoo.zoo.mmaudio.manifest import keys_mismatch, matching_parts, released_part

__all__ = [
    "BIGVGAN_V1_16K",
    "VOCODER_VARIANTS",
    "MMAudioVocoder",
    "VocoderVariant",
    "build_vocoder",
    "check_mel_settings",
    "full_arguments",
    "load_vocoder",
    "located_weights",
    "vocoder_arguments",
    "vocoder_variant",
]

BIGVGAN_V1_16K: dict[str, Any] = {
    "upsample_rates": (4, 4, 2, 2, 2, 2),
    "upsample_kernel_sizes": (8, 8, 4, 4, 4, 4),
    "upsample_initial_channel": 1536,
    "resblock": "1",
    "resblock_kernel_sizes": (3, 7, 11),
    "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    "activation": "snakebeta",
    "snake_logscale": True,
    "use_tanh_at_final": True,
    "use_bias_at_final": True,
}
"""The 16 kHz vocoder's architecture (MMAudio's ``bigvgan_vocoder.yml``; BigVGAN v1 has tanh and a bias)."""

MEL_KEYS = ("sample_rate", "n_fft", "hop_length", "n_mels", "f_min", "f_max")
"""Mel settings a vocoder must share with the codec whose mels it renders (with the logarithm)."""

CONFIG_NAMES = {
    "sample_rate": "sampling_rate",
    "n_fft": "n_fft",
    "hop_length": "hop_size",
    "n_mels": "num_mels",
    "f_min": "fmin",
    "f_max": "fmax",
}
"""foleyzoo's mel setting → the key of a BigVGAN config.json."""


@dataclass(frozen=True)
class VocoderVariant:
    """One vocoder MMAudio uses: its file, whether it comes with a ``config.json``, and its codec."""

    name: str
    file: str
    with_config: bool

    def expected_mel(self) -> dict[str, Any]:
        """The mel settings of the codec whose mels it renders (:class:`~foleyzoo.codecs.mel.MelConfig` names)."""
        return codec_variant(self.name).mel_arguments()


VOCODER_VARIANTS: dict[str, VocoderVariant] = {
    "16k": VocoderVariant("16k", "best_netG.pt", with_config=False),
    "44k": VocoderVariant("44k", "bigvgan_generator.pt", with_config=True),
}


def vocoder_variant(name: str) -> VocoderVariant:
    """The vocoder variant called ``name``; a clear error listing the known ones otherwise."""
    if name not in VOCODER_VARIANTS:
        raise ConfigError(f"unknown MMAudio vocoder variant {name!r}; known: {', '.join(VOCODER_VARIANTS)}")
    return VOCODER_VARIANTS[name]


def load_vocoder(
    path: str | Path, variant: str, *, verify: bool = True, device: torch.device | str = "cpu"
) -> BigVGANVocoder:
    """The vocoder MMAudio uses with its ``variant`` codec, read from ``path``, in eval mode.

    ``16k``: ``path`` is ``best_netG.pt``. ``44k``: ``path`` is the folder holding ``config.json`` and
    ``bigvgan_generator.pt`` (or the ``.pt`` file in such a folder). ``verify=False`` skips the published
    size and SHA-256; ``device="meta"`` checks the files and loads shapes only. Every problem raises
    :class:`~foleyzoo.errors.ConfigError` naming the file and what does not match.
    """
    spec = vocoder_variant(variant)
    released = released_part("vocoder", spec.name)
    weights, config = _locate(Path(path).expanduser(), spec, released.url)
    architecture = read_architecture(config, spec) if config is not None else dict(BIGVGAN_V1_16K)
    if verify:
        verify_file(weights, released)
    state = read_state_dict(weights, f"vocoder {variant}", container="generator")
    return build_vocoder(state, variant, architecture, source=str(weights), device=device)


def _locate(path: Path, spec: VocoderVariant, url: str) -> tuple[Path, Path | None]:
    """(weights file, config.json or None) of ``path`` for the variant; a clear error when absent."""
    if not spec.with_config:
        if path.is_dir():
            raise ConfigError(
                f"{path}: a folder; MMAudio's {spec.name} vocoder is one file, {spec.file} ({url})"
            )
        if not path.is_file():
            raise ConfigError(
                f"{path}: MMAudio vocoder {spec.name} weights not found (the released file is {url})"
            )
        return path, None
    folder = path.parent if path.is_file() else path
    weights, config = folder / spec.file, folder / "config.json"
    for needed in (config, weights):
        if not needed.is_file():
            raise ConfigError(
                f"{needed}: not found; MMAudio's {spec.name} vocoder is a folder with config.json and "
                f"{spec.file} (nvidia/bigvgan_v2_44khz_128band_512x, {url})"
            )
    return weights, config


def read_architecture(config: Path, spec: VocoderVariant) -> dict[str, Any]:
    """The generator's arguments from ``config.json``, after checking its mel settings against the codec's."""
    arguments = config_arguments(read_config(config), str(config))
    check_mel_settings(arguments, spec, str(config))
    return {key: value for key, value in arguments.items() if key not in MEL_KEYS}


def check_mel_settings(arguments: Mapping[str, Any], spec: VocoderVariant, source: str) -> None:
    """Refuse mel settings (``BigVGANVocoder`` arguments) other than those of the variant's codec."""
    expected = spec.expected_mel()
    for key in MEL_KEYS:
        ours, theirs = arguments[key], expected[key]
        if key == "f_max":  # None means the Nyquist frequency
            ours = arguments["sample_rate"] / 2 if ours is None else ours
        if float(ours) != float(theirs):
            raise ConfigError(
                f"{source}: its mel settings do not match MMAudio's {spec.name} codec: "
                f"{CONFIG_NAMES[key]} is {arguments[key]}, the codec's {theirs}"
            )


def full_arguments(spec: VocoderVariant, architecture: Mapping[str, Any] | None) -> dict[str, Any]:
    """:class:`BigVGANVocoder` keyword arguments: the codec's mel settings and the generator's architecture."""
    mel = {key: value for key, value in spec.expected_mel().items() if key in (*MEL_KEYS, "log10")}
    return {**mel, **(BIGVGAN_V1_16K if architecture is None else architecture)}


def located_weights(path: str | Path, variant: str) -> Path:
    """The weights file of a vocoder given as MMAudio lays it out (the file, or v2's folder)."""
    spec = vocoder_variant(variant)
    return _locate(Path(path).expanduser(), spec, released_part("vocoder", spec.name).url)[0]


def vocoder_arguments(path: str | Path, variant: str) -> dict[str, Any]:
    """The :class:`BigVGANVocoder` arguments that rebuild the vocoder at ``path`` (a bundle's part config)."""
    spec = vocoder_variant(variant)
    _, config = _locate(Path(path).expanduser(), spec, released_part("vocoder", spec.name).url)
    return full_arguments(spec, None if config is None else read_architecture(config, spec))


def build_vocoder(
    state: Mapping[str, Tensor],
    variant: str,
    architecture: Mapping[str, Any] | None = None,
    *,
    source: str = "state dict",
    device: torch.device | str = "cpu",
) -> BigVGANVocoder:
    """Fold ``state`` (the official names), check it against the manifest, build and load the vocoder strictly.

    ``architecture``: the generator's arguments (default: the 16 kHz vocoder's, or for ``44k`` those of
    the released config).
    """
    spec = vocoder_variant(variant)
    params, filters = drop_stored_filters(fold_weight_norm(state))
    shapes = {key: tuple(value.shape) for key, value in params.items()}
    problem = keys_mismatch(shapes, released_part("vocoder", spec.name), dropped=())
    if problem is not None:
        others = [name for name in matching_parts("vocoder", shapes) if name != spec.name]
        hint = f"; the file holds MMAudio's {others[0]} vocoder" if others else ""
        raise ConfigError(f"{source}: not MMAudio's {variant} vocoder: {problem}{hint}")
    _check_filters(filters, source)
    if architecture is None and spec.name != "16k":
        raise ConfigError(f"{source}: the {variant} vocoder's architecture comes from its config.json")
    with torch.device("meta"):
        vocoder = BigVGANVocoder(**full_arguments(spec, architecture))
    on_meta = torch.device(device).type == "meta"
    if not on_meta:
        vocoder = vocoder.to_empty(device=device)
        _recompute_filters(vocoder)
    vocoder.load_state_dict({f"generator.{k}": v for k, v in params.items()}, strict=True, assign=on_meta)
    return vocoder.eval()


def _check_filters(filters: Mapping[str, Tensor], source: str) -> None:
    """The stored resampling filters must be the Kaiser-windowed sinc foleyzoo computes (else: another design)."""
    expected = resampling_filter(2, 12).reshape(-1)
    for key, value in filters.items():
        if value.device.type == "meta":
            continue
        if value.numel() != expected.numel() or not torch.allclose(
            value.reshape(-1).float(), expected, atol=1e-6
        ):
            raise ConfigError(
                f"{source}: stored filter {key!r} is not the 12-tap Kaiser-windowed sinc (cutoff 1/4) foleyzoo "
                "computes; the file is another resampling design"
            )


def _recompute_filters(vocoder: BigVGANVocoder) -> None:
    """Refill the non-persistent filter buffers ``to_empty`` left uninitialised."""
    for module in vocoder.modules():
        if isinstance(module, (UpSample1d, DownSample1d)):
            module.reset_filter()


class MMAudioVocoder(BigVGANVocoder):
    """The BigVGAN MMAudio renders a codec's mels with, as a vocoder plugin a recipe names by file.

    ``checkpoint``: ``best_netG.pt`` (16k) or BigVGAN v2's folder (44k), checked as :func:`load_vocoder`
    checks them; without it the released architecture with random weights (44k: BigVGAN v2's defaults).
    ``overrides`` changes sizes (``upsample_initial_channel``) for tests only: no released file fits them.
    """

    def __init__(
        self,
        variant: str = "16k",
        checkpoint: str | None = None,
        verify: bool = True,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        spec = vocoder_variant(variant)
        architecture: Mapping[str, Any] = BIGVGAN_V1_16K if spec.name == "16k" else {}
        weights = None
        if checkpoint is not None:
            weights, config = _locate(
                Path(checkpoint).expanduser(), spec, released_part("vocoder", spec.name).url
            )
            if config is not None:
                architecture = read_architecture(config, spec)
        super().__init__(**{**full_arguments(spec, architecture), **(overrides or {})})
        self.variant = variant
        if weights is not None:
            if verify:
                verify_file(weights, released_part("vocoder", spec.name))
            state = read_state_dict(weights, f"vocoder {variant}", container="generator")
            loaded = build_vocoder(state, variant, dict(architecture or {}) or None, source=str(weights))
            self.load_state_dict(loaded.state_dict(), strict=True)
        self.eval()

    def portable_init_args(self) -> dict[str, Any]:
        """Init args that rebuild this vocoder without its files (a bundle carries the weights)."""
        return {"checkpoint": None}
