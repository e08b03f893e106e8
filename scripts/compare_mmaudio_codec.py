"""Compare foleyzoo's MMAudio codec (front-end, VAE) and BigVGAN vocoders with MMAudio's own code, record the
test goldens, write the codec manifest.

Needs MMAudio's code importable (``git clone https://github.com/hkchengrex/MMAudio`` and
``PYTHONPATH=path/to/MMAudio``; its VAE needs ``einops``, its front-end ``librosa``, its 16 kHz BigVGAN
``omegaconf``); not run in CI. Both sides load the same random weights
(:func:`foleyzoo.zoo.testing.random_state_dict`, in MMAudio's names; weight-norm pairs in the
``weight_g``/``weight_v`` layout BigVGAN's training code writes) — no released weights are needed — and
get the same inputs (:mod:`foleyzoo.zoo.mmaudio.codec_parity`).

    python scripts/compare_mmaudio_codec.py compare [--seconds 1] [--parts front-end vae-16k ...]
    python scripts/compare_mmaudio_codec.py record     # rewrite tests/zoo/data/mmaudio_codec_*.safetensors
    python scripts/compare_mmaudio_codec.py manifest   # rewrite src/foleyzoo/zoo/mmaudio/codec_manifest.json

``compare`` prints the relative max-abs error, max|foleyzoo − MMAudio| / max|MMAudio|, of the mel
front-end, the VAE's posterior mean and decode and each vocoder, at full size.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.zoo.mmaudio.codec import CODEC_VARIANTS
from foleyzoo.zoo.mmaudio.codec_parity import (
    VAE_CONFIGS,
    VOCODER_CONFIGS,
    VAEParityConfig,
    VocoderParityConfig,
    parity_codec,
    parity_latents,
    parity_mel,
    parity_vocoder,
    parity_waveform,
)
from foleyzoo.zoo.testing import mmaudio_commit, random_state_dict, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDENS = REPO_ROOT / "tests" / "zoo" / "data"
MANIFEST = REPO_ROOT / "src" / "foleyzoo" / "zoo" / "mmaudio" / "codec_manifest.json"
WEIGHTS_SEED, INPUTS_SEED = 26, 8
SECONDS = (1.0, 0.77)
"""Clip lengths of the golden encodes: a whole number of latents, and an odd number of mel frames."""
DECODE_FRAMES, VOCODE_FRAMES = 20, 10

# Published facts of the released files; each figure's source is in SOURCES.
MMAUDIO_RELEASE = "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/{file}"
MMAUDIO_HF = "https://huggingface.co/hkchengrex/MMAudio/resolve/main/ext_weights/{file}"
BIGVGAN_REPO = "nvidia/bigvgan_v2_44khz_128band_512x"
BIGVGAN_REVISION = "95a9d1dcb12906c03edd938d77b9333d6ded7dfb"
PUBLISHED: dict[str, dict[str, dict[str, Any]]] = {
    "codecs": {
        "16k": {
            "file": "v1-16.pth",
            "url": MMAUDIO_RELEASE.format(file="v1-16.pth"),
            "mirror": MMAUDIO_HF.format(file="v1-16.pth"),
            "licence": "CC-BY-NC-4.0",
            "size": 686652758,
            "sha256": "15ad082c714ccf3771898a771fc6eebdc1d9c8d5c6154726906a97f43603d62c",
            "md5": "69f56803f59a549a1a507c93859fd4d7",
        },
        "44k": {
            "file": "v1-44.pth",
            "url": MMAUDIO_RELEASE.format(file="v1-44.pth"),
            "mirror": MMAUDIO_HF.format(file="v1-44.pth"),
            "licence": "CC-BY-NC-4.0",
            "size": 1221942998,
            "sha256": "ab6cc15dc31947675f75c950c41f4dcfd0d6d1817555ac871f809ec388e4651a",
            "md5": "fab020275fa44c6589820ce025191600",
        },
    },
    "vocoders": {
        "16k": {
            "file": "best_netG.pt",
            "url": MMAUDIO_RELEASE.format(file="best_netG.pt"),
            "mirror": MMAUDIO_HF.format(file="best_netG.pt"),
            "licence": "CC-BY-NC-4.0 (MMAudio's checkpoints); trained by Make-An-Audio 2's authors",
            "size": 449217313,
            "sha256": "970ca75ee4d5ce583e9396a4534acb14971ea2b4f1c22e038f476680c868a789",
            "md5": "eeaf372a38a9c31c362120aba2dde292",
        },
        "44k": {
            "file": "bigvgan_generator.pt",
            "url": f"https://huggingface.co/{BIGVGAN_REPO}/resolve/{BIGVGAN_REVISION}/bigvgan_generator.pt",
            "repository": BIGVGAN_REPO,
            "revision": BIGVGAN_REVISION,
            "licence": "MIT",
            "size": 489041291,
            "sha256": "d9fe7ec6bd0b44ed9d66973d5012d8181c1570b01e5c72df51973e241dccd357",
            "md5": None,
            "other_sha256": {
                "b42626076b2d905942150f55015455d0fc963e58794b6532b90b3e4bba34bc97": (
                    "bigvgan_generator.pt before v2.4 (commit ef68881, July 2024), kept in the repository as "
                    "bigvgan_generator_3msteps.pt; same size and keys"
                )
            },
            "config": {"file": "config.json", "size": 1403, "sha256": None},
        },
    },
}
SOURCES = {
    "code": (
        "https://github.com/hkchengrex/MMAudio (mmaudio/ext/autoencoder/vae.py, mmaudio/ext/bigvgan/models.py "
        "with bigvgan_vocoder.yml, mmaudio/ext/bigvgan_v2/bigvgan.py with the published config.json); keys and "
        "shapes from these network definitions"
    ),
    "sha256": (
        "Git LFS details on https://huggingface.co/hkchengrex/MMAudio/blob/main/ext_weights/<file> (v1-16.pth, "
        "best_netG.pt) and https://huggingface.co/nvidia/bigvgan_v2_44khz_128band_512x/blob/main/bigvgan_generator.pt; "
        "v1-44.pth: the Git LFS pointer of ext_weights/v1-44.pth in public mirrors of hkchengrex/MMAudio"
    ),
    "size": (
        "Git LFS pointers of the same files (oid = the SHA-256 above) in public mirrors; Hugging Face shows "
        "them rounded (687 MB, 449 MB, 489 MB); MMAudio's docs/MODELS.md gives 655M, 1.2G and 429M. "
        "config.json: 1.4 kB on Hugging Face, 1403 bytes in third-party manifests (no SHA-256 published: not LFS)"
    ),
    "md5": "MMAudio's mmaudio/utils/download_utils.py (none is published for NVIDIA's file)",
    "other_sha256": "the Hugging Face commit history of nvidia/bigvgan_v2_44khz_128band_512x (v2.4, Sep 2024)",
    "licence": (
        "MMAudio's README: checkpoints under CC-BY-NC 4.0 (best_netG.pt comes from Make-An-Audio 2, "
        "distributed in MMAudio's release); nvidia/bigvgan_v2_44khz_128band_512x: MIT"
    ),
    "vocoder_keys": (
        "the generator's parameters with weight norm folded (X.weight for the X.weight_g/X.weight_v pair "
        "BigVGAN's training code saves, or X.parametrizations.weight.original0/1); the stored resampling "
        "filters (*.upsample.filter, *.downsample.lowpass.filter, counted in stored_filters) are checked "
        "against the computed ones and dropped"
    ),
}


# --------------------------------------------------------------------------- MMAudio's side


def mmaudio_vae(config: VAEParityConfig, state: dict[str, Tensor] | None = None):
    """MMAudio's VAE for ``config`` (with ``state`` loaded and weight normalisation removed, as its codec does)."""
    from mmaudio.ext.autoencoder.vae import VAE

    if state is None:
        with torch.device("meta"):
            return VAE(**config.mmaudio_arguments())
    network = VAE(**config.mmaudio_arguments()).eval()
    network.load_state_dict(state, strict=True)
    network.remove_weight_norm()
    return network


def mmaudio_bigvgan(config: VocoderParityConfig, meta: bool = False):
    """MMAudio's BigVGAN for ``config``: v1 (``mmaudio.ext.bigvgan``) at 16 kHz, v2 (``bigvgan_v2``) at 44.1 kHz."""
    device = torch.device("meta") if meta else torch.device("cpu")
    values = config.config()
    if config.version == 1:
        from mmaudio.ext.bigvgan.models import BigVGANVocoder
        from omegaconf import OmegaConf

        with device:
            return BigVGANVocoder(OmegaConf.create(values))
    from mmaudio.ext.bigvgan_v2.bigvgan import BigVGAN
    from mmaudio.ext.bigvgan_v2.env import AttrDict

    with device:
        return BigVGAN(AttrDict(values), use_cuda_kernel=False)


def official_names(state: dict[str, Any]) -> dict[str, Any]:
    """MMAudio's parametrised weight-norm names → the weight_g/weight_v names BigVGAN's training code saves."""
    renamed = {}
    for key, value in state.items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g")
        key = key.replace(".parametrizations.weight.original1", ".weight_v")
        renamed[key] = value
    return renamed


def vocoder_state(config: VocoderParityConfig, seed: int) -> tuple[dict[str, Tensor], dict[str, list[int]]]:
    """Random weights in the official layout (stored filters as MMAudio computes them) and their shapes."""
    network = mmaudio_bigvgan(config)
    reference = official_names(network.state_dict())
    shapes = {key: list(value.shape) for key, value in reference.items()}
    state = random_state_dict(shapes, seed)
    for key, value in reference.items():
        if key.endswith("filter"):
            state[key] = value.clone()
    return state, shapes


def mmaudio_vocode(config: VocoderParityConfig, state: dict[str, Tensor], mel: Tensor) -> Tensor:
    network = mmaudio_bigvgan(config).eval()
    network.load_state_dict(state, strict=True)  # torch converts weight_g/weight_v to its parametrisation
    remove_weight_norm(network)
    with torch.no_grad():
        return network(mel)[:, 0]


def remove_weight_norm(network: torch.nn.Module) -> None:
    """Fold every weight-norm parametrisation, as the networks' ``remove_weight_norm`` does (torch's own
    utility: MMAudio's copy of AMPBlock2.remove_weight_norm calls a function it does not import)."""
    from torch.nn.utils import parametrize

    for module in network.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight")


def mmaudio_mel(variant: str, audio: Tensor) -> Tensor:
    from mmaudio.ext.mel_converter import get_mel_converter

    return get_mel_converter(variant)(audio)


def fingerprint(state: dict[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


# --------------------------------------------------------------------------- commands


def command_record(args: argparse.Namespace) -> int:
    provenance = f"hkchengrex/MMAudio {mmaudio_commit()}, torch {torch.__version__}"
    tensors: dict[str, Tensor] = {}
    for variant, spec in CODEC_VARIANTS.items():
        audio = parity_waveform(spec.sample_rate, 1.0, seed=INPUTS_SEED)
        tensors[f"mel/{variant}"] = mmaudio_mel(variant, audio)
    _save("front_end", tensors, {"inputs_seed": str(INPUTS_SEED), "recorded_with": provenance})

    for name, config in VAE_CONFIGS.items():
        shapes = {key: list(value.shape) for key, value in mmaudio_vae(config).state_dict().items()}
        state = random_state_dict(shapes, WEIGHTS_SEED)
        network = mmaudio_vae(config, state)
        spec = CODEC_VARIANTS[config.variant]
        tensors = {}
        with torch.no_grad():
            for seconds in SECONDS:
                mel = mmaudio_mel(
                    config.variant, parity_waveform(spec.sample_rate, seconds, seed=INPUTS_SEED)
                )
                posterior = network.encode(mel)
                tensors[f"encode/{seconds:g}/mean"] = posterior.mean
                tensors[f"encode/{seconds:g}/logvar"] = posterior.logvar
            z = parity_latents(config.latent_dim, DECODE_FRAMES, seed=INPUTS_SEED)
            tensors["decode"] = network.decode(z.transpose(1, 2))
        _save(name, tensors, _metadata(config.describe(), shapes, state, provenance))

    for name, config in VOCODER_CONFIGS.items():
        state, shapes = vocoder_state(config, WEIGHTS_SEED)
        mel = parity_mel(config.config()["num_mels"], VOCODE_FRAMES, seed=INPUTS_SEED)
        tensors = {"vocode": mmaudio_vocode(config, state, mel)}
        filters = [value for key, value in state.items() if key.endswith("filter")]
        tensors["filter"] = filters[0].reshape(-1).clone()
        _save(name, tensors, _metadata(config.describe(), shapes, state, provenance))
    return 0


def _metadata(config: dict, shapes: dict, state: dict[str, Tensor], provenance: str) -> dict[str, str]:
    return {
        "config": json.dumps(config),
        "weights_seed": str(WEIGHTS_SEED),
        "inputs_seed": str(INPUTS_SEED),
        "mmaudio_shapes": json.dumps(shapes),
        "weights_fingerprint": repr(fingerprint(state)),
        "recorded_with": provenance,
    }


def _save(name: str, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    path = GOLDENS / f"mmaudio_codec_{name}.safetensors"
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(path), metadata=metadata)
    print(
        f"wrote {path.relative_to(REPO_ROOT)} ({path.stat().st_size / 1024:.0f} KiB, {len(tensors)} tensors)"
    )


def command_compare(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str, float]] = []

    def report(part: str, case: str, error: float, started: float) -> None:
        rows.append((part, case, error))
        print(f"{part:14s} {case:38s} {error:.2e}  ({time.perf_counter() - started:.0f} s)", flush=True)

    for variant, spec in CODEC_VARIANTS.items():
        started = time.perf_counter()
        if "front-end" in args.parts:
            audio = parity_waveform(spec.sample_rate, args.seconds, seed=INPUTS_SEED)
            ours = MelFrontend(MelConfig(**spec.mel_arguments()))(audio[:, None])[:, 0]
            report(
                "front-end",
                f"{variant}, {args.seconds:g} s",
                relative_error(ours, mmaudio_mel(variant, audio)),
                started,
            )
        if f"vae-{variant}" in args.parts:
            config = VAEParityConfig(f"vae_{variant}", variant, spec.latent_dim, spec.hidden)
            shapes = {key: list(value.shape) for key, value in mmaudio_vae(config).state_dict().items()}
            state = random_state_dict(shapes, WEIGHTS_SEED)
            network, codec = mmaudio_vae(config, state), parity_codec(config, state)
            del state
            audio = parity_waveform(spec.sample_rate, args.seconds, seed=INPUTS_SEED)
            from foleyzoo.api import Latents, Waveform

            with torch.no_grad():
                theirs = network.encode(mmaudio_mel(variant, audio)).mean
                ours = codec.encode(Waveform(audio[:, None], spec.sample_rate)).values.transpose(1, 2)
                report(
                    f"VAE {variant}",
                    f"posterior mean, {args.seconds:g} s",
                    relative_error(ours, theirs),
                    started,
                )
                z = parity_latents(spec.latent_dim, theirs.shape[-1], seed=INPUTS_SEED)
                theirs = network.decode(z.transpose(1, 2))
                ours = codec.decode(Latents(z, codec.latent_rate)).values[:, 0]
                report(
                    f"VAE {variant}", f"decode, {z.shape[1]} latents", relative_error(ours, theirs), started
                )
            del network, codec
        if f"vocoder-{variant}" in args.parts:
            config = VocoderParityConfig(f"bigvgan_{variant}", variant)
            state, _ = vocoder_state(config, WEIGHTS_SEED)
            vocoder = parity_vocoder(config, state)
            frames = math.ceil(args.seconds * spec.sample_rate / spec.hop_length)
            mel = parity_mel(spec.n_mels, frames, seed=INPUTS_SEED)
            from foleyzoo.api import Mel

            with torch.no_grad():
                ours = vocoder.vocode(
                    Mel(mel[:, None], spec.sample_rate, vocoder.mel_settings.frame_rate)
                ).samples[:, 0]
            theirs = mmaudio_vocode(config, state, mel)
            assert ours.shape == theirs.shape == (mel.shape[0], frames * spec.hop_length)
            report(
                f"BigVGAN {variant}",
                f"{frames} frames → {ours.shape[-1]} samples",
                relative_error(ours, theirs),
                started,
            )
            del state, vocoder
    print("\n| part | case | relative max-abs error |\n| --- | --- | ---: |")
    for part, case, error in rows:
        print(f"| {part} | {case} | {error:.2e} |")
    return 0


def command_manifest(args: argparse.Namespace) -> int:
    sections: dict[str, dict[str, Any]] = {"codecs": {}, "vocoders": {}}
    for variant, spec in CODEC_VARIANTS.items():
        config = VAEParityConfig(f"vae_{variant}", variant, spec.latent_dim, spec.hidden)
        keys = {key: list(value.shape) for key, value in mmaudio_vae(config).state_dict().items()}
        sections["codecs"][variant] = {**PUBLISHED["codecs"][variant], "keys": keys}
        vocoder = VocoderParityConfig(f"bigvgan_{variant}", variant)
        state = official_names(mmaudio_bigvgan(vocoder, meta=True).state_dict())
        folded: dict[str, list[int]] = {}
        filters = 0
        for key, value in state.items():
            if key.endswith("filter"):
                filters += 1
            elif key.endswith(".weight_v"):
                folded[key[: -len("_v")]] = list(value.shape)
            elif not key.endswith(".weight_g"):
                folded[key] = list(value.shape)
        entry = {**PUBLISHED["vocoders"][variant], "container": "generator", "stored_filters": filters}
        sections["vocoders"][variant] = {**entry, "keys": folded}
    manifest = {
        "format": 1,
        "mmaudio_commit": mmaudio_commit(),
        "sources": SOURCES,
        **sections,
    }
    from compare_mmaudio_denoiser import compact_json  # the same layout as the denoisers' manifest

    MANIFEST.write_text(compact_json(manifest) + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)}")
    return 0


PARTS = ("front-end", "vae-16k", "vae-44k", "vocoder-16k", "vocoder-44k")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="full-size errors against MMAudio's code")
    compare.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    compare.add_argument("--seconds", type=float, default=1.0, help="audio length of each case")
    commands.add_parser("record", help="rewrite the goldens the tests compare with")
    commands.add_parser("manifest", help="rewrite the codec manifest's keys and shapes from MMAudio's code")
    args = parser.parse_args(argv)
    try:
        import mmaudio  # noqa: F401
    except ImportError:
        print(
            "error: MMAudio's code is not importable; set PYTHONPATH to a clone of hkchengrex/MMAudio",
            file=sys.stderr,
        )
        return 2
    torch.set_grad_enabled(False)
    commands_by_name = {"compare": command_compare, "record": command_record, "manifest": command_manifest}
    return commands_by_name[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
