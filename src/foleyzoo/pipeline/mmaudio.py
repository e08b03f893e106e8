"""MMAudio's downloaded files → an ordinary foleyzoo bundle (``foleyzoo convert mmaudio``).

Each part is read by its checked loader (published size and SHA-256, then exactly the variant's keys and
shapes, ``weights_only``), then written as a bundle part: a registered plugin's config and a
safetensors file. The bundle generates as MMAudio does (8 s windows, Euler with 25 steps, CFG 4.5,
frames read as MMAudio reads them) and carries MMAudio's licence (CC-BY-NC 4.0) and the source files'
hashes on its model card.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from foleyzoo import __version__
from foleyzoo.api import AudioCodec, Denoiser, SyncEncoder, TextEncoder, VisualEncoder, Vocoder
from foleyzoo.encoders.open_clip_loader import DFN5B_CLIP
from foleyzoo.errors import ConfigError
from foleyzoo.pipeline.bundle import ModelCard, write_bundle
from foleyzoo.samplers.guidance import CONDITION_NAMES
from foleyzoo.zoo.mmaudio.loader import file_sha256

__all__ = [
    "BundlePart",
    "MMAudioFiles",
    "MMAudioParts",
    "codec_of",
    "convert_mmaudio",
    "locate_files",
    "write_mmaudio_bundle",
]

LICENCE = "CC-BY-NC-4.0"
ATTRIBUTION = (
    "MMAudio: Ho Kei Cheng, Masato Ishii, Akio Hayakawa, Takashi Shibuya, Alexander Schwing, Yuki Mitsufuji, "
    "'MMAudio: Taming Multimodal Joint Training for High-Quality Video-to-Audio Synthesis', CVPR 2025; "
    "weights from https://huggingface.co/hkchengrex/MMAudio"
)
MMAUDIO_HUB = "hkchengrex/MMAudio"
BIGVGAN_44K_HUB = "nvidia/bigvgan_v2_44khz_128band_512x"
BIGVGAN_44K_FILES = ("config.json", "bigvgan_generator.pt")
CLIP_FILES = ("open_clip_config.json", "open_clip_pytorch_model.bin")
WINDOW_SECONDS = 8.0
"""MMAudio's networks were trained on 8 s clips: the bundle's window."""
CFG_SCALE, EULER_STEPS = 4.5, 25

SYNCHFORMER_ARGUMENTS: dict[str, Any] = {}
"""Architecture arguments of the Synchformer read from a file: none (the released network); tests set sizes."""

FILE_OPTIONS = {
    "network": "--network",
    "vae": "--vae",
    "vocoder": "--vocoder",
    "synchformer": "--synchformer",
    "clip": "--clip",
}
"""Each file's option of ``foleyzoo convert mmaudio`` (named in the error when the file is missing)."""


def codec_of(variant: str) -> str:
    """The codec (and vocoder) variant of a network variant: ``"16k"`` for ``small_16k``, else ``"44k"``."""
    from foleyzoo.zoo.mmaudio.variants import variant as variant_spec

    return "16k" if variant_spec(variant).sample_rate == 16000 else "44k"


@dataclass(frozen=True)
class MMAudioFiles:
    """Where each of a variant's files is: the network, VAE, vocoder, Synchformer and CLIP."""

    network: Path
    vae: Path
    vocoder: Path
    """``best_netG.pt`` (16k) or the folder holding BigVGAN v2's ``config.json`` and ``bigvgan_generator.pt``."""
    synchformer: Path
    clip: str
    """A folder holding ``open_clip_config.json`` and the weights, or ``hf-hub:apple/DFN5B-CLIP-ViT-H-14-384``."""


def default_files(variant: str, weights: Path) -> dict[str, Path]:
    """The paths of a variant's files in an MMAudio checkout after its download step (``weights`` = the checkout)."""
    codec = codec_of(variant)
    ext = weights / "ext_weights"
    return {
        "network": weights / "weights" / f"mmaudio_{variant}.pth",
        "vae": ext / ("v1-16.pth" if codec == "16k" else "v1-44.pth"),
        "vocoder": ext / ("best_netG.pt" if codec == "16k" else BIGVGAN_44K_HUB.split("/")[1]),
        "synchformer": ext / "synchformer_state_dict.pth",
        "clip": ext / DFN5B_CLIP.split("/")[1],
    }


def _download(variant: str, weights: Path, paths: Mapping[str, Path]) -> None:
    """Fetch the missing files into ``weights`` from the repositories MMAudio's own download step uses;
    a failed download is one ConfigError naming what was being fetched (files already there are kept)."""
    try:
        _fetch_missing(variant, weights, paths)
    except ConfigError:
        raise
    except Exception as exc:  # network, authentication or disk errors of huggingface_hub
        raise ConfigError(
            f"--download into {weights} failed ({type(exc).__name__}: {str(exc)[:300]}); the files fetched so "
            "far are kept, and running again fetches the rest"
        ) from None


def _fetch_missing(variant: str, weights: Path, paths: Mapping[str, Path]) -> None:
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        raise ConfigError("--download needs the huggingface_hub package") from None
    for name in ("network", "vae", "synchformer"):
        if not paths[name].exists():
            hf_hub_download(MMAUDIO_HUB, paths[name].relative_to(weights).as_posix(), local_dir=weights)
    if not paths["vocoder"].exists():
        if codec_of(variant) == "16k":
            hf_hub_download(MMAUDIO_HUB, "ext_weights/best_netG.pt", local_dir=weights)
        else:
            snapshot_download(
                BIGVGAN_44K_HUB, allow_patterns=list(BIGVGAN_44K_FILES), local_dir=paths["vocoder"]
            )
    if not paths["clip"].exists():
        snapshot_download(
            DFN5B_CLIP.split(":", 1)[1], allow_patterns=list(CLIP_FILES), local_dir=paths["clip"]
        )


def locate_files(
    variant: str, weights: str | Path | None = None, download: bool = False, **overrides: str | Path | None
) -> MMAudioFiles:
    """Each file of ``variant``: its option in ``overrides``, else its place in the checkout ``weights``.

    CLIP may also be the Hugging Face cache's DFN5B (``hf-hub:`` name). Nothing is downloaded unless
    ``download``; a missing file is a ConfigError naming it and the option that sets it.
    """
    unknown = set(overrides) - set(FILE_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown MMAudio file(s) {sorted(unknown)}; known: {', '.join(FILE_OPTIONS)}")
    base = None if weights is None else Path(weights).expanduser()
    defaults = {} if base is None else default_files(variant, base)
    if download and base is not None:
        _download(variant, base, {key: value for key, value in defaults.items() if not overrides.get(key)})
    found: dict[str, Any] = {}
    for name, option in FILE_OPTIONS.items():
        given = overrides.get(name)
        path = Path(given).expanduser() if given else defaults.get(name)
        if name == "clip" and (given and str(given).startswith("hf-hub:")):
            found[name] = str(given)
            continue
        if path is None or not path.exists():
            if name == "clip" and not given:
                found[name] = DFN5B_CLIP  # the Hugging Face cache; its loader says if it is not there
                continue
            where = f"{path}: not found" if path is not None else "not given"
            raise ConfigError(
                f"MMAudio {variant}'s {name} file {where}; set it with {option}, or pass --weights DIR laid out "
                "as MMAudio's checkout after its download step (DIR/weights/, DIR/ext_weights/), or --download"
            )
        found[name] = path if name != "clip" else str(path)
    return MMAudioFiles(**found)


@dataclass
class BundlePart:
    """A part for a bundle: the registered class that rebuilds it, its arguments, and the module (its weights)."""

    class_path: str
    init_args: dict[str, Any]
    module: nn.Module

    def entry(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"class_path": self.class_path, "init_args": self.init_args}, self.module.state_dict()


@dataclass
class MMAudioParts:
    """Every part of an MMAudio bundle."""

    denoiser: BundlePart
    codec: BundlePart
    vocoder: BundlePart
    visual_encoder: BundlePart
    text_encoder: BundlePart
    sync_encoder: BundlePart

    def check(self) -> None:
        """Each part implements its interface, and the codec's latents are the denoiser's."""
        interfaces = {
            "denoiser": Denoiser,
            "codec": AudioCodec,
            "vocoder": Vocoder,
            "visual_encoder": VisualEncoder,
            "text_encoder": TextEncoder,
            "sync_encoder": SyncEncoder,
        }
        for name, interface in interfaces.items():
            module = getattr(self, name).module
            if not isinstance(module, interface):
                raise ConfigError(
                    f"MMAudio bundle: part {name} is a {type(module).__name__}, not a {interface.__name__}"
                )
        codec, denoiser = self.codec.module, self.denoiser.module
        if codec.latent_dim != getattr(denoiser, "latent_dim", codec.latent_dim):
            raise ConfigError(
                f"MMAudio bundle: the codec makes {codec.latent_dim}-channel latents, the denoiser takes "
                f"{denoiser.latent_dim} (a 16k network with a 44k codec, or the reverse?)"
            )


@dataclass(frozen=True)
class SourceFile:
    """A converted file as the model card records it."""

    part: str
    path: str
    size: int | None
    sha256: str | None


def _source(part: str, path: str | Path) -> SourceFile:
    file = Path(path)
    if file.is_file():
        return SourceFile(part, file.name, file.stat().st_size, file_sha256(file))
    return SourceFile(part, str(path), None, None)


def _published_or_warn(path: Path, released: Any) -> None:
    """Check the published size and SHA-256 once, here: a warning (then a check by keys and shapes) when the
    file is not the published one; the loaders are then called with ``verify=False``."""
    from foleyzoo.zoo.mmaudio.loader import verify_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verify_file(path, released)
    except ConfigError as exc:
        warnings.warn(
            f"{exc}; converting it as an unknown file, checked by its keys and shapes", stacklevel=3
        )


def load_parts(variant: str, files: MMAudioFiles, download: bool = False) -> MMAudioParts:
    """Read every file with its checked loader (hashes: a warning for an unknown file; keys and shapes: an error)."""
    from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder
    from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder
    from foleyzoo.zoo.mmaudio import load_codec, load_denoiser, load_vocoder
    from foleyzoo.zoo.mmaudio.manifest import released_file, released_part
    from foleyzoo.zoo.mmaudio.variants import variant as variant_spec
    from foleyzoo.zoo.mmaudio.vocoder import located_weights, vocoder_arguments

    codec_name = codec_of(variant)
    spec = variant_spec(variant)
    if not files.network.is_file():
        raise ConfigError(
            f"{files.network}: MMAudio {variant} network file not found (set it with --network)"
        )
    vocoder_weights = located_weights(files.vocoder, codec_name)
    _published_or_warn(files.network, released_file(variant))
    _published_or_warn(files.vae, released_part("codec", codec_name))
    _published_or_warn(vocoder_weights, released_part("vocoder", codec_name))
    denoiser = load_denoiser(files.network, variant, verify=False)  # checked just above
    codec = load_codec(files.vae, codec_name, verify=False)
    codec.set_latent_statistics(denoiser.latent_mean, denoiser.latent_std)
    vocoder = load_vocoder(files.vocoder, codec_name, verify=False)
    visual = OpenCLIPVisualEncoder(files.clip, download=download)
    text = OpenCLIPTextEncoder(files.clip, download=download)
    sync_part = load_sync_part(files.synchformer)
    from foleyzoo.zoo.mmaudio.codec import codec_variant

    return MMAudioParts(
        denoiser=BundlePart("MMAudioDenoiser", dict(spec.architecture()), denoiser),
        codec=BundlePart("EDM2MelVAE", dict(codec_variant(codec_name).codec_arguments()), codec),
        vocoder=BundlePart("BigVGANVocoder", vocoder_arguments(files.vocoder, codec_name), vocoder),
        visual_encoder=BundlePart(
            "OpenCLIPVisualEncoder", {"model_cfg": visual.model_cfg, "fps": visual.fps}, visual
        ),
        text_encoder=BundlePart("OpenCLIPTextEncoder", {"model_cfg": text.model_cfg}, text),
        sync_encoder=sync_part,
    )


def load_sync_part(path: Path) -> BundlePart:
    """MMAudio's Synchformer file as a bundle part (its MD5 the published one, else a warning; keys strictly)."""
    from foleyzoo.encoders.sync.synchformer import Synchformer
    from foleyzoo.zoo.mmaudio.manifest import released_sync_file

    released = released_sync_file()
    if released.md5 is not None and path.is_file():
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 24):
                digest.update(chunk)
        if digest.hexdigest() != released.md5:
            warnings.warn(
                f"{path}: MD5 {digest.hexdigest()} is not the published {released.md5} of {released.file}; "
                "converting it as an unknown file, checked by its keys and shapes",
                stacklevel=3,
            )
    # MMAudio's feature count at every length; SYNCHFORMER_ARGUMENTS is empty for the released network
    sync = Synchformer.from_file(path, feature_count="segments", **SYNCHFORMER_ARGUMENTS)
    return BundlePart("Synchformer", dict(sync.config), sync)


def data_format(parts: MMAudioParts) -> dict[str, Any]:
    """How the bundle's frames are read and windowed: MMAudio's way (8 s, first frame at or after, bicubic)."""
    visual, sync = parts.visual_encoder.module, parts.sync_encoder.module
    visual_size = list(getattr(visual, "image_size", (384, 384)))
    sync_side = int(getattr(sync, "image_size", 224))
    return {
        "window": WINDOW_SECONDS,
        "visual_fps": float(visual.fps),
        "visual_size": visual_size,
        "sync_fps": float(sync.fps),
        "sync_size": [sync_side, sync_side],
        "sample_rate": int(parts.codec.module.sample_rate),
        "frame_pick": "next",
        "frame_resize": "bicubic",
        "frame_count": "floor",
        "visual_fit": "squash",
        "sync_fit": "crop",
    }


def model_card(variant: str, sources: list[SourceFile]) -> ModelCard:
    rows = "\n".join(
        f"| {source.part} | `{source.path}` | {source.size if source.size is not None else '—'} | "
        f"{source.sha256 or '—'} |"
        for source in sources
    )
    notes = (
        f"Converted by foleyzoo {__version__} from MMAudio's released files. Attribution: {ATTRIBUTION}.\n\n"
        "MMAudio's weights are licensed CC-BY-NC 4.0 (non-commercial use only, with attribution); a model "
        "derived from them (this bundle, a fine-tuned copy) carries the same terms. BigVGAN v2 (44.1 kHz) is "
        "MIT; the DFN5B CLIP weights are under the Apple Sample Code License.\n\n"
        "| part | source file | bytes | SHA-256 |\n| --- | --- | --- | --- |\n" + rows
    )
    return ModelCard(
        name=f"mmaudio_{variant}",
        architecture=f"MMAudio {variant} (MM-DiT, flow matching; mel-VAE {codec_of(variant)}, BigVGAN, CLIP, Synchformer)",
        trained_on="as released by MMAudio (VGGSound, AudioCaps, WavCaps, Clotho and others; see its paper)",
        licence=f"{LICENCE} (MMAudio's weights)",
        notes=notes,
    )


def write_mmaudio_bundle(
    variant: str,
    parts: MMAudioParts,
    output: str | Path,
    sources: list[SourceFile] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``parts`` as a bundle with MMAudio's generation settings (8 s windows, Euler 25, CFG 4.5, DualMono)."""
    parts.check()
    entries = {
        name: getattr(parts, name).entry()
        for name in ("denoiser", "codec", "vocoder", "visual_encoder", "text_encoder", "sync_encoder")
    }
    entries["renderer"] = ({"class_path": "DualMono", "init_args": {}}, {})
    generation = {
        "cfg_scale": CFG_SCALE,
        "text_cfg_scale": None,
        "sampler": {"class_path": "EulerSampler", "init_args": {"steps": EULER_STEPS}},
        "conditions": list(CONDITION_NAMES),
        "encode_empty_prompt": True,  # MMAudio conditions on CLIP's features of "" (prompt and negative)
        "last_hop": "repeat",  # BigVGAN renders every hop: the mel goes to it as it is
    }
    return write_bundle(
        output, entries, data_format(parts), generation, model_card(variant, sources or []), overwrite
    )


def convert_mmaudio(
    variant: str, files: MMAudioFiles, output: str | Path, overwrite: bool = False, download: bool = False
) -> Path:
    """Read MMAudio's ``files`` for ``variant`` and write them as a bundle at ``output``."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: already exists; pass --overwrite to replace it")
    parts = load_parts(variant, files, download=download)
    sources = [
        _source("denoiser", files.network),
        _source("codec", files.vae),
        _source(
            "vocoder", files.vocoder if files.vocoder.is_file() else files.vocoder / BIGVGAN_44K_FILES[1]
        ),
        _source("sync encoder", files.synchformer),
        _source("CLIP", files.clip),
    ]
    return write_mmaudio_bundle(variant, parts, output, sources, overwrite)
