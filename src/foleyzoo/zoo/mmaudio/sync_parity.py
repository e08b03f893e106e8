"""The cases on which foleyzoo's Synchformer is proven equal to MMAudio's: configurations, weights, inputs.

Shared by the tests (which compare with outputs recorded once with MMAudio's code) and
``scripts/compare_mmaudio_sync.py``, so that both feed the two implementations the same weights and
frames. Weights are :func:`foleyzoo.zoo.testing.random_state_dict` in the official names (with the
``vfeat_extractor.`` prefix of the released file), LayerNorm gains moved near 1.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from foleyzoo.encoders.sync.synchformer import Synchformer
from foleyzoo.zoo.testing import random_state_dict

__all__ = ["FULL_CONFIG", "REDUCED_CONFIG", "parity_frames", "parity_state", "parity_synchformer"]

FULL_CONFIG: dict[str, Any] = {
    "embed_dim": 768,
    "depth": 12,
    "heads": 12,
    "mlp_ratio": 4.0,
    "image_size": 224,
    "patch_size": 16,
}
"""The released network (MMAudio's ``divided_224_16x4.yaml``)."""

REDUCED_CONFIG: dict[str, Any] = {**FULL_CONFIG, "embed_dim": 64, "depth": 2, "heads": 2}
"""The goldens' network: narrow and shallow. Still 224 px with 16-px patches, because the official code
sizes its spatial position table for 224 px whatever the image size; still 16 frames with 2-frame
tubelets (8 time steps)."""


def parity_state(shapes: Mapping[str, Sequence[int]], seed: int) -> dict[str, Tensor]:
    """Random weights for these official keys; the blocks' LayerNorm gains (``norm1``/``norm2``/``norm3``)
    become 1 + N(0, 0.1²) like the final norm's, so that signals keep their scale through the blocks."""
    state = random_state_dict(shapes, seed)
    for key, value in state.items():
        if key.endswith(("norm1.weight", "norm2.weight", "norm3.weight")):
            state[key] = 1.0 + 0.5 * value
    return state


def parity_frames(batch: int, frames: int, size: int, seed: int) -> Tensor:
    """(batch, frames, 3, size, size) preprocessed frames, uniform in [-1, 1] (MMAudio's normalised range)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(b"frames"))
    return 2.0 * torch.rand(batch, frames, 3, size, size, generator=generator) - 1.0


def parity_synchformer(config: Mapping[str, Any], state: Mapping[str, Tensor]) -> Synchformer:
    """foleyzoo's Synchformer of ``config`` with ``state`` (official keys, prefixed) loaded, in eval mode."""
    network = Synchformer(**config).eval()
    network.load_weights(state, "parity weights")
    return network
