"""Load a released MMAudio VAE file (``v1-16.pth``, ``v1-44.pth``) as an :class:`EDM2MelVAE`, without trusting it.

As for the denoisers: size and SHA-256 against the published ones (``verify``), then — read with
``torch.load(weights_only=True)`` — exactly the variant's keys and shapes (a file of the other size is
named as such), then the codec is built on the meta device and loaded strictly with the converted
weights (names by the table of :mod:`foleyzoo.zoo.mmaudio.codec`, normalisation folded in).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.mmaudio.codec import codec_variant, convert_vae_state_dict, stage_count
from foleyzoo.zoo.mmaudio.loader import read_checked, read_state_dict
from foleyzoo.zoo.mmaudio.manifest import keys_mismatch, matching_parts, released_part

__all__ = ["MMAudioCodec", "build_codec", "converted_codec_state", "load_codec"]


def load_codec(
    path: str | Path, variant: str, *, verify: bool = True, device: torch.device | str = "cpu"
) -> EDM2MelVAE:
    """MMAudio's released VAE ``variant`` (``"16k"`` or ``"44k"``) read from ``path``, in eval mode.

    The codec encodes to the VAE's own latents (its posterior mean; ``latent_mean``/``latent_std`` are 0
    and 1 until :meth:`~EDM2MelVAE.set_latent_statistics`). ``verify=False`` skips the published size and
    SHA-256 (weights of your own with the same keys); ``device="meta"`` checks the file and loads shapes
    only. Every problem raises :class:`~foleyzoo.errors.ConfigError` naming the file and the variant.
    """
    spec = codec_variant(variant)
    state = read_checked(path, released_part("codec", spec.name), f"codec {variant}", verify)
    return build_codec(state, variant, source=str(Path(path).expanduser()), device=device)


def build_codec(
    state: Mapping[str, Tensor],
    variant: str,
    *,
    source: str = "state dict",
    device: torch.device | str = "cpu",
) -> EDM2MelVAE:
    """Check ``state`` (MMAudio's names) against the manifest, then build the codec and load it strictly."""
    spec = codec_variant(variant)
    with torch.device("meta"):
        codec = EDM2MelVAE(**spec.codec_arguments())
    on_meta = torch.device(device).type == "meta"
    if not on_meta:
        codec = codec.to_empty(device=device)
        codec.frontend = codec.frontend.__class__(codec.mel_config).to(device)  # recompute its buffers
    codec.load_state_dict(converted_codec_state(state, variant, source, device), strict=True, assign=on_meta)
    return codec.eval()


def converted_codec_state(
    state: Mapping[str, Tensor], variant: str, source: str, device: torch.device | str = "cpu"
) -> dict[str, Tensor]:
    """An MMAudio VAE state dict checked against the manifest and converted to :class:`EDM2MelVAE`'s names
    (latent statistics 0 and 1: the VAE's own latents)."""
    spec = codec_variant(variant)
    shapes = {key: tuple(value.shape) for key, value in state.items()}
    problem = keys_mismatch(shapes, released_part("codec", spec.name), dropped=())
    if problem is not None:
        others = [name for name in matching_parts("codec", shapes) if name != spec.name]
        hint = f"; the file holds MMAudio's {others[0]} VAE" if others else ""
        raise ConfigError(f"{source}: not MMAudio's {variant} VAE: {problem}{hint}")
    converted = {
        f"vae.{key}": value for key, value in convert_vae_state_dict(state, stage_count(state)).items()
    }
    converted["latent_mean"] = torch.zeros(spec.latent_dim, device=device)
    converted["latent_std"] = torch.ones(spec.latent_dim, device=device)
    return converted


class MMAudioCodec(EDM2MelVAE):
    """MMAudio's released mel-VAE as a codec plugin a recipe names by file: ``variant`` and ``checkpoint``.

    ``checkpoint`` is ``v1-16.pth`` or ``v1-44.pth`` as released, checked as :func:`load_codec` checks it
    (``verify``: the published size and SHA-256); without it the network has random weights (what
    ``foleyzoo summarize`` counts). Latents are the VAE's own (posterior mean), unless ``statistics``
    names an MMAudio network file whose ``latent_mean``/``latent_std`` standardise them (to fine-tune
    that network).
    ``architecture`` overrides sizes (``hidden``, ``latent_dim``) for tests only: no released file fits them.
    """

    def __init__(
        self,
        variant: str = "44k",
        checkpoint: str | None = None,
        verify: bool = True,
        statistics: str | None = None,
        architecture: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(**{**codec_variant(variant).codec_arguments(), **(architecture or {})})
        self.variant = variant
        if (
            statistics is not None
        ):  # a network file's latent_mean/latent_std: latents as that network sees them
            source = Path(statistics).expanduser()
            if not source.is_file():
                raise ConfigError(
                    f"{source}: MMAudio network file not found (the codec reads its latent statistics)"
                )
            stored = read_state_dict(source, "network (for its latent statistics)")
            missing = [key for key in ("latent_mean", "latent_std") if key not in stored]
            if missing:
                raise ConfigError(
                    f"{statistics}: holds no {' or '.join(missing)}; not an MMAudio network file"
                )
            self.set_latent_statistics(stored["latent_mean"], stored["latent_std"])
        if checkpoint is not None:
            path = Path(checkpoint).expanduser()
            released = released_part("codec", codec_variant(variant).name)
            state = read_checked(path, released, f"codec {variant}", verify)
            converted = converted_codec_state(state, variant, str(path))
            converted.update(latent_mean=self.latent_mean, latent_std=self.latent_std)
            self.load_state_dict(converted, strict=True)
        self.eval()

    def portable_init_args(self) -> dict[str, Any]:
        """Init args that rebuild this codec without its files (a bundle carries weights and statistics)."""
        return {"checkpoint": None, "statistics": None}
