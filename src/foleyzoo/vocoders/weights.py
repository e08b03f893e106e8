"""Reading pretrained vocoder weights from a local file safely: safetensors or ``torch.load(weights_only=True)``.

Errors are :class:`~foleyzoo.errors.ConfigError` naming the file, and for a checkpoint of another
architecture they list the missing, unexpected and wrongly shaped parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import read_weights, state_dict_mismatch


def read_state_dict(path: str | Path, nested_keys: Sequence[str] = ("state_dict",)) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file or a torch checkpoint, unwrapped from any of ``nested_keys``."""
    return read_weights(path, "vocoder", nested_keys)


def fold_weight_norm(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Replace weight-norm pairs by plain weights: ``X.weight_g``/``X.weight_v`` (old API) or
    ``X.parametrizations.weight.original0``/``original1`` (new API) → ``X.weight`` = g · v / ‖v‖.

    The norm of v is taken over every axis where g has size 1, so any ``dim`` of weight_norm folds.
    """
    pairs = {"weight_g": "weight_v", "parametrizations.weight.original0": "parametrizations.weight.original1"}

    def split(key: str) -> tuple[str, str] | None:
        for name in (*pairs, *pairs.values()):
            stem = key[: -len(name)]
            if key.endswith(name) and (stem == "" or stem.endswith(".")):
                return stem, name
        return None

    folded: dict[str, Tensor] = {}
    for key, value in state.items():
        parts = split(key)
        if parts is None:
            folded[key] = value
            continue
        stem, name = parts
        if name not in pairs:
            continue  # the v half: handled with its g
        g, v = value, state[stem + pairs[name]]
        axes = [axis for axis in range(v.dim()) if g.shape[axis] == 1]
        norm = torch.linalg.vector_norm(v, dim=axes, keepdim=True) if axes else v.abs()
        folded[stem + "weight"] = g * v / norm
    return folded


def check_fits(
    path: str | Path, expected: Mapping[str, Tensor], stored: Mapping[str, Tensor], what: str
) -> None:
    """Raise a ConfigError naming ``path`` and the mismatched parameters when ``stored`` does not fit ``what``."""
    problem = state_dict_mismatch(dict(expected), dict(stored))
    if problem:
        raise ConfigError(f"{path}: not a {what} checkpoint of this configuration: {problem}")
