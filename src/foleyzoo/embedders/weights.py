"""Loading evaluation networks' published weight files and foleyzoo checkpoints, with errors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from foleyzoo.encoders.pretrained import freeze_module, load_state_dict_strict
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import load_module_and_config, read_weights

__all__ = ["load_foleyzoo_module", "load_weights_file"]


def load_weights_file(module: nn.Module, path: str | Path, what: str) -> nn.Module:
    """Load a safetensors / ``weights_only`` torch file into ``module`` exactly, then freeze it.

    A missing or unreadable file, or one whose tensors do not fit (another architecture or size), is a
    :class:`~foleyzoo.errors.ConfigError` naming ``path``.
    """
    state = read_weights(path, what)
    load_state_dict_strict(module, state, Path(path).expanduser(), what)
    return freeze_module(module)


def load_foleyzoo_module(path: str | Path, wanted: type, what: str) -> Any:
    """The frozen module of a ``foleyzoo fit`` checkpoint, refused (ConfigError naming it) unless a ``wanted``."""
    module, config = load_module_and_config(Path(path).expanduser())
    if not isinstance(module, wanted):
        raise ConfigError(
            f"{path}: holds a {config['class_path']} checkpoint, but {what} needs a "
            f"{wanted.__module__}.{wanted.__qualname__} checkpoint"
        )
    return freeze_module(module)
