"""Build an open_clip CLIP model from local files (or the Hugging Face cache) with foleyzoo's safe weight reader.

MMAudio's visual and text conditioning come from one open_clip model, ``apple/DFN5B-CLIP-ViT-H-14-384``.
open_clip (``pip install 'foleyzoo[mmaudio]'``) builds the architecture; its weights are read here with
``weights_only=True`` and loaded strictly, so a wrong or truncated file is one clear error naming it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import exception_summary, read_weights, state_dict_mismatch

__all__ = [
    "CONFIG_FILE",
    "DFN5B_CLIP",
    "OPENAI_MEAN",
    "OPENAI_STD",
    "OpenCLIPSource",
    "config_source",
    "import_open_clip",
    "load_open_clip",
    "model_config",
    "tokenizer_for",
]

DFN5B_CLIP = "hf-hub:apple/DFN5B-CLIP-ViT-H-14-384"
"""MMAudio's CLIP: DFN5B-trained ViT-H/14 at 384 px with QuickGELU (image and text features of 1024)."""
CONFIG_FILE = "open_clip_config.json"
WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)
"""The weight file names open_clip's hub folders use, in the order open_clip itself prefers them."""
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
HUB_PREFIX = "hf-hub:"


def import_open_clip() -> Any:
    """The ``open_clip`` module, or a ConfigError saying how to install it (it is an optional extra)."""
    try:
        import open_clip
    except ImportError as exc:
        raise ConfigError(
            "the open_clip encoders need the open_clip_torch package: pip install 'foleyzoo[mmaudio]' "
            f"(or pip install open_clip_torch); import failed: {exc}"
        ) from None
    return open_clip


@dataclass(frozen=True)
class OpenCLIPSource:
    """Where a model comes from: its config (a folder's ``open_clip_config.json`` or a built-in name) and weights."""

    folder: Path | None
    """The folder holding ``open_clip_config.json``; None for a built-in name."""
    config: dict[str, Any] | None
    """That file's contents (``model_cfg`` and ``preprocess_cfg``)."""
    architecture: str | None
    """A built-in open_clip architecture name (``ViT-H-14-378-quickgelu``) when there is no config file."""
    weights: Path | None
    label: str

    @property
    def preprocess(self) -> dict[str, Any]:
        """The config's ``preprocess_cfg`` (mean, std, interpolation, resize mode), empty for a built-in name."""
        return dict((self.config or {}).get("preprocess_cfg") or {})


def _hub_folder(repo: str, download: bool) -> Path:
    """The local snapshot of a hub repository's config and weights: the cache, or a download if allowed."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with open_clip and transformers
        raise ConfigError(f"{HUB_PREFIX}{repo}: loading by hub name needs huggingface_hub") from None
    try:
        config = Path(hf_hub_download(repo, CONFIG_FILE, local_files_only=not download))
    except Exception as exc:
        how = "pass download=True (or --download) to fetch it" if not download else "the download failed"
        raise ConfigError(
            f"{HUB_PREFIX}{repo}: not in the Hugging Face cache; give a local folder holding "
            f"{CONFIG_FILE} and its weights, or {how} ({exception_summary(exc)})"
        ) from None
    for name in WEIGHT_FILES:
        try:
            hf_hub_download(repo, name, local_files_only=not download)
            break
        except Exception:
            continue
    return config.parent


def _folder_source(folder: Path, checkpoint: Path | None, label: str) -> OpenCLIPSource:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{folder}: an open_clip model folder needs {CONFIG_FILE}; it has none")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{config_path}: not a readable JSON file ({exception_summary(exc)})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg"), dict):
        raise ConfigError(f"{config_path}: has no 'model_cfg' mapping; not an open_clip config")
    if checkpoint is None:
        checkpoint = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    return OpenCLIPSource(folder=folder, config=config, architecture=None, weights=checkpoint, label=label)


def resolve_source(model: str, checkpoint: str | None = None, download: bool = False) -> OpenCLIPSource:
    """Where ``model`` points: a local folder, ``hf-hub:org/name`` (the cache, or a download), or a built-in name.

    ``checkpoint`` overrides the weight file (a built-in name needs one to be more than random weights).
    """
    weights = None if checkpoint is None else Path(checkpoint).expanduser()
    if model.startswith(HUB_PREFIX):
        return _folder_source(_hub_folder(model[len(HUB_PREFIX) :], download), weights, model)
    folder = Path(model).expanduser()
    if folder.is_dir():
        return _folder_source(folder, weights, str(folder))
    if folder.exists():
        raise ConfigError(f"{folder}: give the folder holding {CONFIG_FILE}, not a file")
    open_clip = import_open_clip()
    if model not in open_clip.list_models():
        raise ConfigError(
            f"{model}: neither a folder with {CONFIG_FILE}, an 'hf-hub:org/name', nor a built-in open_clip "
            f"architecture (for MMAudio's CLIP: a folder like DFN5B-CLIP-ViT-H-14-384/, or {DFN5B_CLIP})"
        )
    return OpenCLIPSource(folder=None, config=None, architecture=model, weights=weights, label=model)


def model_config(source: OpenCLIPSource) -> dict[str, Any]:
    """The ``model_cfg`` the source's model is built from (a folder's, or open_clip's for a built-in name)."""
    if source.config is not None:
        return dict(source.config["model_cfg"])
    return dict(import_open_clip().get_model_config(source.architecture))


def _build(source: OpenCLIPSource) -> nn.Module:
    open_clip = import_open_clip()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # "no pretrained weights loaded": foleyzoo loads them next
    try:
        if source.folder is None and source.config is not None:  # a bare model_cfg (a bundle's part)
            return open_clip.model.CLIP(**source.config["model_cfg"])
        name = f"local-dir:{source.folder}" if source.folder is not None else source.architecture
        return open_clip.create_model(name, load_weights=False)
    except Exception as exc:
        raise ConfigError(
            f"{source.label}: open_clip could not build the model ({exception_summary(exc)})"
        ) from None
    finally:
        logging.disable(previous)


def config_source(model_cfg: dict[str, Any], checkpoint: str | None = None) -> OpenCLIPSource:
    """A source that is a ``model_cfg`` alone: the architecture, weights from ``checkpoint`` or none.

    This is how a bundle rebuilds an open_clip encoder: the architecture from its config, the weights
    from the bundle's own safetensors file.
    """
    if not isinstance(model_cfg, dict) or not isinstance(model_cfg.get("vision_cfg"), dict):
        raise ConfigError(
            f"model_cfg must be an open_clip model config with a 'vision_cfg', not {model_cfg!r:.80}"
        )
    if model_cfg.get("custom_text") or "hf_model_name" in (model_cfg.get("text_cfg") or {}):
        raise ConfigError(
            "model_cfg: only CLIP models with open_clip's own text transformer can be built from a config"
        )
    weights = None if checkpoint is None else Path(checkpoint).expanduser()
    return OpenCLIPSource(
        folder=None, config={"model_cfg": model_cfg}, architecture=None, weights=weights, label="model_cfg"
    )


def load_open_clip(
    model: str,
    checkpoint: str | None = None,
    download: bool = False,
    require_weights: bool = True,
    model_cfg: dict[str, Any] | None = None,
) -> tuple[nn.Module, OpenCLIPSource]:
    """An open_clip ``CLIP`` in eval mode, its weights loaded strictly, and where it came from.

    With ``model_cfg`` the model is that architecture (``model`` is ignored), its weights from
    ``checkpoint`` or, when ``require_weights`` is False, left for the caller (a bundle) to load.
    """
    source = (
        resolve_source(model, checkpoint, download)
        if model_cfg is None
        else config_source(model_cfg, checkpoint)
    )
    clip = _build(source)
    if source.weights is None:
        if require_weights:
            raise ConfigError(
                f"{source.label}: no weights found (looked for {', '.join(WEIGHT_FILES)}); pass checkpoint="
            )
        return clip.eval(), source
    stored = read_weights(source.weights, "open_clip")
    if "logit_scale" in stored and stored["logit_scale"].dim() != clip.logit_scale.dim():
        stored["logit_scale"] = stored["logit_scale"].reshape(clip.logit_scale.shape)
    expected = clip.state_dict()
    problem = state_dict_mismatch(expected, stored)
    if problem:
        raise ConfigError(f"{source.weights}: not the weights of {source.label}: {problem}")
    clip.load_state_dict(stored, strict=True)
    return clip.eval(), source


def tokenizer_for(source: OpenCLIPSource) -> Any:
    """open_clip's tokenizer for the source's model (CLIP's BPE for a model with open_clip's text transformer)."""
    open_clip = import_open_clip()
    if source.folder is not None:
        return open_clip.get_tokenizer(f"local-dir:{source.folder}")
    if source.architecture is not None:
        return open_clip.get_tokenizer(source.architecture)
    text = (source.config or {}).get("model_cfg", {}).get("text_cfg", {})
    return open_clip.tokenizer.SimpleTokenizer(context_length=int(text.get("context_length", 77)))
