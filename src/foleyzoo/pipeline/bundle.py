"""Bundles: a folder with one config, one safetensors file a trained part, and a model card.

``foleyzoo export`` writes one from a flow model's checkpoint (and, optionally, a stereo renderer's);
:class:`Bundle` reads it back. Every part is rebuilt through the plugin allowlist and its weights are
read from safetensors, so opening a bundle never runs code from the files. A bundle is written into a
temporary folder and renamed into place, so an interrupted export never leaves a half bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from foleyzoo.api import (
    AudioCodec,
    Denoiser,
    Sampler,
    StereoRenderer,
    SyncEncoder,
    TextEncoder,
    VisualEncoder,
    Vocoder,
)
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import load_module_and_config, read_checkpoint, state_dict_mismatch
from foleyzoo.io.from_checkpoint import ComponentFromCheckpoint
from foleyzoo.plugins.allowlist import instantiate_from_config

BUNDLE_VERSION = 1
CONFIG_FILE, CARD_FILE, CARD_TEXT = "config.json", "card.json", "README.md"
PART_INTERFACES: dict[str, type] = {
    "codec": AudioCodec,
    "denoiser": Denoiser,
    "text_encoder": TextEncoder,
    "visual_encoder": VisualEncoder,
    "sync_encoder": SyncEncoder,
    "vocoder": Vocoder,
    "renderer": StereoRenderer,
}
"""Bundle part → the interface its class must implement."""
FROZEN_PARTS = ("codec", "text_encoder", "visual_encoder", "sync_encoder", "vocoder")


@dataclass
class ModelCard:
    """What a bundle is: its name, architecture, training data, licence and measured scores."""

    name: str
    architecture: str = ""
    trained_on: str = ""
    licence: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    def markdown(self) -> str:
        """The card as the bundle's README.md."""
        lines = [f"# {self.name}", ""]
        for label, value in (
            ("Architecture", self.architecture),
            ("Trained on", self.trained_on),
            ("Licence", self.licence),
        ):
            lines.append(f"- **{label}**: {value or 'not stated'}")
        if self.scores:
            lines += ["", "| score | value |", "| --- | --- |"]
            lines += [f"| {key} | {value:.4g} |" for key, value in self.scores.items()]
        if self.notes:
            lines += ["", self.notes]
        return "\n".join(lines) + "\n"


@dataclass
class Bundle:
    """An exported pipeline folder: its config (parts, generation settings, data format) and card."""

    path: Path
    config: dict[str, Any]
    card: ModelCard

    @classmethod
    def open(cls, path: str | Path) -> Bundle:
        """Read a bundle folder's config and card; a clear error when it is not one."""
        path = Path(path).absolute()  # messages name the folder even when it is given as "."
        config_path = path / CONFIG_FILE
        if not config_path.is_file():
            raise ConfigError(
                f"{path}: not a foleyzoo bundle (no {CONFIG_FILE}); make one with `foleyzoo export`"
            )
        config = _read_json(config_path)
        if config.get("bundle_version") != BUNDLE_VERSION:
            raise ConfigError(
                f"{config_path}: bundle version {config.get('bundle_version')!r}; this foleyzoo reads {BUNDLE_VERSION}"
            )
        check_bundle_config(config, config_path)
        card_path = path / CARD_FILE
        card = read_card(card_path) if card_path.is_file() else ModelCard(name=path.name)
        return cls(path, config, card)

    @property
    def parts(self) -> dict[str, dict[str, Any]]:
        return self.config["parts"]

    def build(self, name: str) -> nn.Module | None:
        """Part ``name`` built from its config through the allowlist, with its weights loaded (None: absent)."""
        entry = self.parts.get(name)
        if entry is None:
            return None
        module = instantiate_from_config(
            entry["config"],
            PART_INTERFACES[name],
            source=str(self.path / CONFIG_FILE),
            base_dirs=[self.path],
            key_prefix=f"parts.{name}.config",
        )
        if entry.get("weights"):
            weights = _read_safetensors(self.path / entry["weights"])
            problem = state_dict_mismatch(module.state_dict(), weights)
            if problem:
                raise ConfigError(
                    f"{self.path / entry['weights']}: the weights do not fit part {name}: {problem}"
                )
            module.load_state_dict(weights)
        return module.requires_grad_(False).eval()

    def sampler(self) -> Sampler | None:
        """The sampler the model was validated with, rebuilt from the bundle's generation settings."""
        config = self.config["generation"].get("sampler")
        if config is None:
            return None
        return instantiate_from_config(
            config,
            Sampler,
            source=str(self.path / CONFIG_FILE),
            base_dirs=[self.path],
            key_prefix="generation.sampler",
        )


def check_bundle_config(config: dict[str, Any], source: Path) -> None:
    """Refuse, naming the file and key, a bundle config whose layout is not the one :func:`export_bundle` writes."""
    for key in ("data_format", "generation", "parts"):
        if not isinstance(config.get(key), dict):
            found = "missing" if key not in config else f"a {type(config[key]).__name__}"
            raise ConfigError(f"{source}: key {key!r} must be an object ({found})")
    for name, entry in config["parts"].items():
        if name not in PART_INTERFACES:
            raise ConfigError(
                f"{source}: parts.{name}: unknown part; a bundle's parts are {', '.join(PART_INTERFACES)}"
            )
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ConfigError(
                f"{source}: parts.{name} must be an object with a 'config' object (class_path, init_args) "
                f"and 'weights' (a file name or null), not {json.dumps(entry)[:80]}"
            )
        if not isinstance(entry["config"].get("class_path"), str):
            raise ConfigError(f"{source}: parts.{name}.config has no class_path")
        weights = entry.get("weights")
        if weights is not None and (not isinstance(weights, str) or Path(weights).name != weights):
            raise ConfigError(
                f"{source}: parts.{name}.weights must be a file name inside the bundle, not {weights!r}"
            )
    sampler = config["generation"].get("sampler")
    if sampler is not None and not (isinstance(sampler, dict) and isinstance(sampler.get("class_path"), str)):
        raise ConfigError(f"{source}: generation.sampler must be null or an object with a class_path")


def read_card(path: Path) -> ModelCard:
    """A bundle's ``card.json``; an unknown or mistyped key is an error naming it."""
    stored = _read_json(path)
    known = {item.name: item for item in fields(ModelCard)}
    unknown = sorted(set(stored) - set(known))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} in the model card; its keys are {', '.join(known)}"
        )
    if not isinstance(stored.get("name"), str):
        raise ConfigError(f"{path}: the model card needs a 'name' (text)")
    for key, value in stored.items():
        expected = dict if key == "scores" else str
        if not isinstance(value, expected):
            raise ConfigError(f"{path}: model card key {key!r} must be {expected.__name__}, not {value!r}")
    scores = stored.get("scores", {})
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in scores.values()):
        raise ConfigError(f"{path}: model card 'scores' must map names to numbers")
    return ModelCard(**stored)


def export_bundle(
    checkpoint: str | Path,
    output: str | Path,
    card: ModelCard,
    renderer_checkpoint: str | Path | None = None,
    renderer: dict[str, Any] | None = None,
    data_format: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the flow model of ``checkpoint`` (EMA denoiser weights), its frozen parts and a renderer as a bundle.

    The renderer is a trained one's checkpoint or a config of one without weights (e.g. ``DualMono``);
    ``data_format`` (frame rates, sizes, window) defaults to what the checkpoint recorded from its data.
    """
    from foleyzoo.training.flow_matching import FoleyFlowMatching

    output = Path(output)
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: already exists; pass --overwrite to replace it")
    stored = read_checkpoint(checkpoint)
    model, config = load_module_and_config(checkpoint)
    if not isinstance(model, FoleyFlowMatching):
        raise ConfigError(f"{checkpoint}: holds a {type(model).__name__}, not a FoleyFlowMatching flow model")
    data_format = data_format or stored.get("data_format")
    if not data_format:
        raise ConfigError(
            f"{checkpoint}: records no data format (frame rates and sizes); give them to the export"
        )
    init_args = config["init_args"]
    parts: dict[str, tuple[dict[str, Any], dict[str, Tensor]]] = {}
    for name in FROZEN_PARTS:
        module = getattr(model, name)
        if module is not None:
            parts[name] = (_part_config(init_args, name, module, checkpoint), module.state_dict())
    parts["denoiser"] = (
        _part_config(init_args, "denoiser", model.denoiser, checkpoint),
        model.sampling_denoiser().state_dict(),
    )
    if renderer_checkpoint is not None:
        rendering, renderer_config = load_module_and_config(renderer_checkpoint)
        if not isinstance(rendering, StereoRenderer):
            raise ConfigError(
                f"{renderer_checkpoint}: holds a {type(rendering).__name__}, not a stereo renderer"
            )
        parts["renderer"] = (renderer_config, rendering.state_dict())
    elif renderer is not None:
        built = instantiate_from_config(renderer, StereoRenderer, source="the renderer config")
        parts["renderer"] = (renderer, built.state_dict())
    generation = {
        "cfg_scale": model.cfg_scale,
        "text_cfg_scale": model.text_cfg_scale,
        "sampler": init_args.get("sampler") if isinstance(init_args.get("sampler"), dict) else None,
        "conditions": list(model.enabled),
        "last_hop": "repeat",
    }
    return write_bundle(output, parts, data_format, generation, card, overwrite=overwrite)


def write_bundle(
    output: str | Path,
    parts: dict[str, tuple[dict[str, Any], dict[str, Tensor]]],
    data_format: dict[str, Any],
    generation: dict[str, Any],
    card: ModelCard,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder: ``parts`` (name → its ``{"class_path", "init_args"}`` and state dict), settings, card.

    Written into a temporary folder beside ``output`` and renamed into place, so an interrupted write
    never leaves a half bundle; an existing ``output`` is replaced only with ``overwrite``.
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: already exists; pass --overwrite to replace it")
    bundle_config = {
        "bundle_version": BUNDLE_VERSION,
        "data_format": data_format,
        "generation": generation,
        "parts": {},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        for name, (part_config, weights) in parts.items():
            entry: dict[str, Any] = {"config": part_config, "weights": None}
            if weights:
                entry["weights"] = f"{name}.safetensors"
                _write_safetensors(weights, staging / entry["weights"])
            bundle_config["parts"][name] = entry
        (staging / CONFIG_FILE).write_text(json.dumps(bundle_config, indent=2) + "\n")
        (staging / CARD_FILE).write_text(json.dumps(asdict(card), indent=2) + "\n")
        (staging / CARD_TEXT).write_text(card.markdown())
        replaced = output.with_name(f".{output.name}.replaced-{os.getpid()}") if output.exists() else None
        if replaced is not None:  # two renames, not a slow delete, between the old bundle and the new
            output.rename(replaced)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)
    return output


def _part_config(
    init_args: dict[str, Any], name: str, module: nn.Module, checkpoint: str | Path
) -> dict[str, Any]:
    """The part's ``{"class_path", "init_args"}``; parts read from earlier checkpoints carry their architecture."""
    config = init_args.get(name)
    if not isinstance(config, dict) or "class_path" not in config:
        raise ConfigError(
            f"{checkpoint}: part {name} was not built from a config (was the model trained with `foleyzoo fit`?)"
        )
    if isinstance(module, ComponentFromCheckpoint) or hasattr(module, "portable_init_args"):
        return {**config, "init_args": {**config.get("init_args", {}), **module.portable_init_args()}}
    return config


def _write_safetensors(weights: dict[str, Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({key: value.detach().cpu().contiguous().clone() for key, value in weights.items()}, str(path))


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise ConfigError(f"{path}: weight file missing from the bundle")
    try:
        return load_file(str(path))
    except Exception as exc:
        raise ConfigError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {exc})") from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return value
