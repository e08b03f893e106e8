"""Reading ``imagebind_huge.pth`` for the vision and audio towers, checked against the key/shape manifest.

The released file holds all six of ImageBind's modalities. The vision and audio keys must all be there with
their shapes; the other modalities' keys (text, depth, thermal, IMU) may be there or not, but where present
their shapes must match the manifest too; any key the manifest does not list means another model's file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor

from foleyzoo.encoders.pretrained import freeze_module
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import exception_summary, read_weights
from foleyzoo.zoo.testing import random_state_dict

from .network import ImageBindTowers

__all__ = [
    "MANIFEST",
    "TOWERS",
    "WEIGHTS_FILE",
    "WEIGHTS_LICENCE",
    "WEIGHTS_URL",
    "check_layout",
    "load_towers",
    "official_shapes",
    "parity_state",
    "tower_keys",
]

MANIFEST = Path(__file__).resolve().parents[1] / "manifests" / "imagebind.json"
WEIGHTS_FILE = "imagebind_huge.pth"
WEIGHTS_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
WEIGHTS_LICENCE = "CC BY-NC-SA 4.0 (Meta's ImageBind model card)"
TOWERS = ("vision", "audio")
"""The modalities av-benchmark's IB-score uses; the others in the file are ignored."""

_WHAT = "ImageBind-huge (av-benchmark's IB-score)"


@functools.lru_cache(maxsize=1)
def official_shapes() -> dict[str, list[int]]:
    """Every key of the released file with its shape, all six modalities (from the manifest)."""
    manifest = json.loads(MANIFEST.read_text())
    return {key: list(shape) for key, shape in manifest["files"]["imagebind_huge"]["keys"].items()}


def _modality(key: str) -> str:
    return key.split(".")[1] if key.startswith("modality_") else ""


def tower_keys(parts: Iterable[str] = TOWERS) -> list[str]:
    """The released keys of the given modalities' preprocessors, trunks, heads and postprocessors."""
    wanted = set(parts)
    return [key for key in official_shapes() if _modality(key) in wanted]


def check_layout(stored: Mapping[str, Tensor], path: str | Path) -> None:
    """A ConfigError naming ``path`` unless ``stored`` has every vision/audio key, and every key it has is
    a released one of the released shape."""
    shapes = official_shapes()
    missing = [key for key in tower_keys() if key not in stored]
    unknown = [key for key in stored if key not in shapes]
    reshaped = [
        f"{key} {tuple(stored[key].shape)} vs {tuple(shapes[key])}"
        for key in stored
        if key in shapes and list(stored[key].shape) != shapes[key]
    ]
    problems = [
        f"{label} {', '.join(items[:6])}{' …' if len(items) > 6 else ''}"
        for label, items in (
            ("missing", missing),
            ("unexpected", unknown),
            ("shape (stored vs released)", reshaped),
        )
        if items
    ]
    if problems:
        raise ConfigError(f"{path}: not {WEIGHTS_FILE} ({_WHAT}): {'; '.join(problems)}")


def _read(path: Path) -> dict[str, Tensor]:
    """The file's tensors, memory-mapped where torch can (the released file is 4.8 GB, mostly unused here)."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: {_WHAT} weights file not found; download {WEIGHTS_FILE} from {WEIGHTS_URL} "
            f"({WEIGHTS_LICENCE})"
        )
    if path.suffix != ".safetensors":
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # not a zip-format torch file: the plain reader gives the error, naming it
            stored = None
        if isinstance(stored, Mapping) and all(isinstance(value, Tensor) for value in stored.values()):
            return dict(stored)
    return read_weights(path, _WHAT)


def load_towers(checkpoint: str | Path, parts: Iterable[str] = TOWERS) -> ImageBindTowers:
    """The frozen towers of ``parts`` with their weights from the released file (checked as a whole)."""
    path = Path(checkpoint).expanduser()
    stored = _read(path)
    check_layout(stored, path)
    towers = ImageBindTowers(parts)
    state = {key: stored[key] for key in towers.state_dict()}
    try:
        towers.load_state_dict(state, strict=True)
    except Exception as exc:  # the layout check above should make this unreachable
        raise ConfigError(f"{path}: the weights do not fit {_WHAT}: {exception_summary(exc)}") from exc
    return freeze_module(towers)


def parity_state(seed: int, parts: Iterable[str] = TOWERS) -> dict[str, Tensor]:
    """Seeded random weights for the released keys of ``parts`` (:func:`random_state_dict`), LayerNorm gains
    (every 1-d ``weight``) moved to 1 + N(0, 0.1²) so signals keep their scale through 32 blocks."""
    state = random_state_dict({key: official_shapes()[key] for key in tower_keys(parts)}, seed)
    for key, value in state.items():
        if key.endswith("weight") and value.dim() == 1:
            state[key] = 1.0 + 0.5 * value
    return state
