"""A converted MMAudio bundle at a reduced size with random weights, for comparing generation with MMAudio's own.

Every part is MMAudio's architecture made small: the network (2 joint blocks and 1 single block, hidden
64, 16 kHz), the 16 kHz VAE (hidden 16, 8 latent channels), BigVGAN v1 (128 channels), CLIP (2 layers,
384 px, 56-px patches) and Synchformer (64 wide, 2 blocks, 224 px). Weights are drawn from the keys and
shapes in each project's own names (:func:`foleyzoo.zoo.testing.random_state_dict`), so MMAudio's code
and foleyzoo's load the same numbers; ``scripts/compare_mmaudio_pipeline.py`` runs MMAudio's side and
records the waveform the tests compare with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from foleyzoo.encoders.open_clip_loader import CONFIG_FILE
from foleyzoo.pipeline.mmaudio import BundlePart, MMAudioParts, write_mmaudio_bundle
from foleyzoo.zoo.mmaudio.codec_parity import VOCODER_CONFIGS, VAEParityConfig, parity_codec, parity_vocoder
from foleyzoo.zoo.mmaudio.parity import ParityConfig, parity_denoiser
from foleyzoo.zoo.mmaudio.sync_parity import REDUCED_CONFIG, parity_state, parity_synchformer
from foleyzoo.zoo.mmaudio.vocoder import BIGVGAN_V1_16K, full_arguments, vocoder_variant
from foleyzoo.zoo.testing import random_state_dict

__all__ = ["CLIP_CFG", "NETWORK", "SEED", "SYNC_CONFIG", "VAE", "VOCODER", "PipelineWeights", "parity_bundle"]

SEED = 31
CLIP_CFG: dict[str, Any] = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 384, "layers": 2, "width": 64, "head_width": 32, "patch_size": 56},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
"""A reduced DFN5B CLIP: 384 px (MMAudio checks it), QuickGELU, CLIP's tokenizer and 77 positions."""
NETWORK = ParityConfig(
    "pipeline_tiny_16k",
    latent_dim=8,
    clip_dim=CLIP_CFG["embed_dim"],
    sync_dim=REDUCED_CONFIG["embed_dim"],
    text_dim=CLIP_CFG["text_cfg"]["width"],
    hidden=64,
    heads=2,
    joint_blocks=2,
    single_blocks=1,
    v2=False,
    sample_rate=16000,
)
VAE = VAEParityConfig("pipeline_vae_16k", "16k", latent_dim=NETWORK.latent_dim, hidden=16)
VOCODER = VOCODER_CONFIGS["bigvgan_tiny_16k"]
SYNC_CONFIG: dict[str, Any] = {**REDUCED_CONFIG, "feature_count": "segments"}
PARTS = ("network", "sync", "vae", "vocoder")


@dataclass
class PipelineWeights:
    """Every part's weights in its original names (MMAudio's, open_clip's, Synchformer's, BigVGAN's)."""

    network: dict[str, Tensor]
    clip: dict[str, Tensor]
    sync: dict[str, Tensor]
    vae: dict[str, Tensor]
    vocoder: dict[str, Tensor]

    @classmethod
    def draw(cls, shapes: Mapping[str, Mapping[str, Sequence[int]]], seed: int = SEED) -> PipelineWeights:
        """Weights for the keys and shapes of ``network``, ``sync``, ``vae`` and ``vocoder`` (CLIP's come from
        :data:`CLIP_CFG`); the same shapes and seed always give the same numbers."""
        import open_clip

        clip_shapes = {
            key: tuple(v.shape) for key, v in open_clip.model.CLIP(**CLIP_CFG).state_dict().items()
        }
        return cls(
            network=random_state_dict(shapes["network"], seed),
            clip=random_state_dict(clip_shapes, seed + 1),
            sync=parity_state(shapes["sync"], seed + 2),
            vae=random_state_dict(shapes["vae"], seed + 3),
            vocoder=random_state_dict(shapes["vocoder"], seed + 4),
        )


def parity_bundle(weights: PipelineWeights, folder: Path) -> Path:
    """The weights as foleyzoo parts, written by the converter's bundle writer into ``folder/bundle``."""
    from safetensors.torch import save_file

    from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder
    from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder

    clip_folder = folder / "clip"
    clip_folder.mkdir(parents=True, exist_ok=True)
    (clip_folder / CONFIG_FILE).write_text(json.dumps({"model_cfg": CLIP_CFG}))
    save_file(
        {k: v.contiguous() for k, v in weights.clip.items()}, str(clip_folder / "open_clip_model.safetensors")
    )
    visual, text = OpenCLIPVisualEncoder(str(clip_folder)), OpenCLIPTextEncoder(str(clip_folder))
    denoiser = parity_denoiser(NETWORK, weights.network)
    codec = parity_codec(VAE, weights.vae)
    codec.set_latent_statistics(denoiser.latent_mean, denoiser.latent_std)
    vocoder = parity_vocoder(VOCODER, weights.vocoder)
    sync = parity_synchformer(SYNC_CONFIG, weights.sync)
    channels = VOCODER.config()["upsample_initial_channel"]
    vocoder_args = full_arguments(
        vocoder_variant("16k"), {**BIGVGAN_V1_16K, "upsample_initial_channel": channels}
    )
    parts = MMAudioParts(
        denoiser=BundlePart("MMAudioDenoiser", NETWORK.architecture(), denoiser),
        codec=BundlePart("EDM2MelVAE", VAE.codec_arguments(), codec),
        vocoder=BundlePart("BigVGANVocoder", vocoder_args, vocoder),
        visual_encoder=BundlePart("OpenCLIPVisualEncoder", {"model_cfg": CLIP_CFG, "fps": 8.0}, visual),
        text_encoder=BundlePart("OpenCLIPTextEncoder", {"model_cfg": CLIP_CFG}, text),
        sync_encoder=BundlePart("Synchformer", SYNC_CONFIG, sync),
    )
    return write_mmaudio_bundle("small_16k", parts, folder / "bundle")
