"""Deterministic random weights for proving a converted network equal to its original.

Both sides load the same state dict, so every parameter must be non-zero and non-trivial: released
networks zero-initialise their adaLN and final layers, which would make any two outputs trivially equal.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = [
    "compact_json",
    "git_commit",
    "mmaudio_commit",
    "random_state_dict",
    "relative_error",
    "seeded_generator",
]


def random_state_dict(shapes: Mapping[str, Sequence[int]], seed: int) -> dict[str, Tensor]:
    """A float32 tensor for each key, drawn from ``seed`` and the key's name alone (independent of the others).

    Matrices and convolution kernels whose name ends in ``weight`` get N(0, 1/fan_in) (unit-gain: signals
    keep their scale through a few blocks); norm weights 1 + N(0, 0.1²); weight-norm magnitudes
    (``weight_g``, ``parametrizations.weight.original0``: each output row's norm) 0.5 + N(0, 0.05²), half
    gain, so that a vocoder stacking dozens of residual convolutions stays inside its output clamp; names
    ending in ``std`` U(0.5, 1.5) (a standard deviation stays positive); everything else (biases,
    embeddings, placeholders, weight-norm directions) N(0, 0.2²).
    """
    state = {}
    for key in sorted(shapes):
        shape = tuple(int(size) for size in shapes[key])
        generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
        noise = torch.randn(shape, generator=generator)
        if key.endswith("std"):
            value = 0.5 + torch.rand(shape, generator=generator)
        elif key.endswith("norm.weight"):
            value = 1.0 + 0.1 * noise
        elif key.endswith(("weight_g", "weight.original0")):
            value = 0.5 + 0.05 * noise
        elif key.endswith("weight") and len(shape) >= 2:
            value = noise / math.sqrt(math.prod(shape[1:]))
        else:
            value = 0.2 * noise
        state[key] = value
    return state


def relative_error(ours: Tensor, theirs: Tensor) -> float:
    """max|ours − theirs| / max|theirs|, in float64: the figure every comparison with an original reports."""
    theirs64 = theirs.double()
    return float((ours.double() - theirs64).abs().max() / theirs64.abs().max())


def git_commit(module_name: str, environment: str | None = None) -> str:
    """The commit of an importable project's checkout: ``environment`` if that variable is set, else asked of git."""
    import importlib
    import os
    import subprocess
    from pathlib import Path

    if environment and os.environ.get(environment):
        return os.environ[environment]
    folder = Path(importlib.import_module(module_name).__file__).resolve().parents[1]
    try:
        return subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"


def mmaudio_commit() -> str:
    """The commit of the MMAudio code importable here: ``MMAUDIO_COMMIT`` if set, else asked of git."""
    return git_commit("mmaudio", "MMAUDIO_COMMIT")


def compact_json(value: object) -> str:
    """Indented JSON with each list of numbers (a shape) on one line: the key/shape manifests' format."""
    import json
    import re

    text = json.dumps(value, indent=1)
    return re.sub(r"\[\s+([\d,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def seeded_generator(seed: int, name: str) -> torch.Generator:
    """A generator drawn from ``seed`` and ``name`` alone (as :func:`random_state_dict` draws each key)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
