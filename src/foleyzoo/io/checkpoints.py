"""Load a trained LightningModule from a ``foleyzoo fit`` checkpoint without trusting the file.

Unlike ``LightningModule.load_from_checkpoint``, this never imports a path read from the file before
the allowlist accepts it, and reads tensors with ``torch.load(weights_only=True)``. :func:`read_weights`
reads a bare weights file (safetensors or torch) the same safe way for every loader of pretrained weights.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from foleyzoo.errors import ConfigError
from foleyzoo.plugins.allowlist import check_config_allowed, instantiate_from_config


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dictionary, read with ``weights_only=True``; a clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint file not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def exception_summary(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= limit else text[:limit] + " …"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_weights(
    path: str | Path, what: str, nested_keys: Sequence[str] = ("state_dict", "model", "module")
) -> dict[str, Tensor]:
    """The named tensors of a safetensors or ``weights_only`` torch file, unwrapped: one safe reader for all weights loaders."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: {what} checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            stored: object = load_file(str(path), device="cpu")
        else:
            stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path}: not a readable checkpoint ({exception_summary(exc)})") from exc
    for _ in range(3):  # training checkpoints nest the state dict a level or two deep
        inner = next(
            (
                stored[key]
                for key in nested_keys
                if isinstance(stored, Mapping) and isinstance(stored.get(key), Mapping)
            ),
            None,
        )
        if inner is None:
            break
        stored = inner
    if not isinstance(stored, Mapping):
        found = type(stored).__name__
    elif not stored:
        found = f"an empty {type(stored).__name__}"
    elif not all(isinstance(key, str) and isinstance(value, Tensor) for key, value in stored.items()):
        found = ", ".join(sorted(str(key) for key in stored)[:6])
    else:
        return dict(stored)
    searched = (
        f", and no state dict of named tensors is nested under {', '.join(nested_keys)}"
        if nested_keys
        else ""
    )
    raise ConfigError(f"{path}: holds no state dict of tensors (found {found}){searched}")


def check_stored_config(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Refuse, naming the file and key, a checkpoint whose stored hyper-parameters name anything outside
    foleyzoo and the registered plugins (see :mod:`foleyzoo.plugins.allowlist`); nothing is imported."""
    check_config_allowed(
        checkpoint.get("hyper_parameters") or {},
        source=str(path),
        base_dirs=[Path(path).parent],
        key_prefix="hyper_parameters",
    )


def stored_module_config(checkpoint: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``{"class_path", "init_args"}`` config LightningCLI stored in the checkpoint's hyper-parameters."""
    hparams = checkpoint.get("hyper_parameters") or {}
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ConfigError(
            f"{source}: the checkpoint stores no model config (_class_path); it was not written by "
            "`foleyzoo fit`, so foleyzoo cannot tell which model to build"
        )
    init_args = {key: value for key, value in hparams.items() if not key.startswith("_")}
    return {"class_path": class_path, "init_args": init_args}


def load_module(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Rebuild the module stored in a ``foleyzoo fit`` checkpoint and load its weights.

    Raises :class:`~foleyzoo.errors.ConfigError` naming the file and the mismatched parameters when the
    weights do not fit the model the config describes.
    """
    return load_module_and_config(path, map_location)[0]


def load_module_and_config(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[Any, dict[str, Any]]:
    """:func:`load_module`, also returning the ``{"class_path", "init_args"}`` config it was built from."""
    from lightning.pytorch import LightningModule

    checkpoint = read_checkpoint(path)
    check_stored_config(checkpoint, path)
    config = stored_module_config(checkpoint, str(path))
    module = instantiate_from_config(  # a copy: the config is returned as stored
        copy.deepcopy(config), LightningModule, source=str(path), base_dirs=[Path(path).parent]
    )
    problem = state_dict_mismatch(module.state_dict(), checkpoint["state_dict"])
    if problem:
        raise ConfigError(f"{path}: the weights do not fit {config['class_path']}: {problem}")
    module.load_state_dict(checkpoint["state_dict"])
    return module.to(map_location), config


def state_dict_mismatch(expected: dict[str, Any], stored: dict[str, Any], limit: int = 6) -> str:
    """One line naming missing, unexpected and wrongly shaped parameters; ``""`` when they fit."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    reshaped = [
        f"{key} {tuple(stored[key].shape)} vs {tuple(expected[key].shape)}"
        for key in sorted(set(expected) & set(stored))
        if tuple(expected[key].shape) != tuple(stored[key].shape)
    ]
    parts = [
        f"{label} {', '.join(items[:limit])}{' …' if len(items) > limit else ''}"
        for label, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape (stored vs model)", reshaped),
        )
        if items
    ]
    return "; ".join(parts)


def stored_shapes(state_dict: Mapping[str, Any]) -> dict[str, Tensor]:
    """The state dict's tensors as meta tensors: names and shapes to compare, without the weights' memory."""
    return {
        key: torch.empty(value.shape, device="meta")
        for key, value in state_dict.items()
        if isinstance(value, Tensor)
    }


def check_resumable(
    path: str | Path, model: torch.nn.Module, stored: Mapping[str, Tensor] | None = None
) -> None:
    """Refuse, naming the file and the mismatched parameters, to resume ``model`` from a checkpoint of
    another model (Lightning would fail deep inside ``load_state_dict``). ``stored`` is the checkpoint's
    state dict (or its :func:`stored_shapes`) where already read. A distributed checkpoint (a folder of
    shards) is left to the strategy that wrote it."""
    path = Path(path)
    if path.is_dir():
        return
    stored = read_checkpoint(path)["state_dict"] if stored is None else stored
    problem = state_dict_mismatch(model.state_dict(), dict(stored))
    if problem:
        raise ConfigError(
            f"{path}: this checkpoint is not of the model the recipe builds ({type(model).__name__}): {problem}"
        )
