"""MMAudio's parameter names and layouts → foleyzoo's, as data: a table of names and a table of transforms.

Names: a module path of MMAudio maps to a module path of :class:`MMAudioDenoiser` (``{i}`` stands for a
block index), a block's inner parts map by a second table, and a few whole tensors are renamed.
Layouts: the fused qkv rows go from MMAudio's heads × head_dim × (q, k, v) to foleyzoo's (q, k, v) × heads
× head_dim, with the query and key rows (and the q/k norm weights) of each head reordered from
interleaved rotary pairs to halves; shapes that only differ by singleton dimensions are reshaped.
Keys MMAudio's own ``load_weights`` drops (buffers older files stored) are dropped here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from foleyzoo.zoo.mmaudio.layers import half_split_order

__all__ = [
    "BLOCK_PARTS",
    "DROPPED_KEYS",
    "MODULES",
    "TENSORS",
    "convert_state_dict",
    "foleyzoo_key",
    "name_table",
]

MODULES: tuple[tuple[str, str], ...] = (
    ("audio_input_proj", "latent_in"),
    ("clip_input_proj", "clip_in"),
    ("sync_input_proj", "sync_in"),
    ("text_input_proj", "text_in"),
    ("clip_cond_proj", "clip_pool"),
    ("text_cond_proj", "text_pool"),
    ("global_cond_mlp", "global_mlp"),
    ("t_embed.mlp", "time_embed"),
    ("joint_blocks.{i}.latent_block", "joint.{i}.layers.0"),
    ("joint_blocks.{i}.clip_block", "joint.{i}.layers.1"),
    ("joint_blocks.{i}.text_block", "joint.{i}.layers.2"),
    ("fused_blocks.{i}", "single.{i}.layers"),
    ("final_layer.adaLN_modulation.1", "final.modulation"),
    ("final_layer.conv", "final.out"),
)
"""MMAudio module path → foleyzoo module path; the parameters below them keep their names."""

BLOCK_PARTS: tuple[tuple[str, str], ...] = (
    ("attn.qkv", "qkv"),
    ("attn.q_norm", "q_norm"),
    ("attn.k_norm", "k_norm"),
    ("linear1", "out"),
    ("ffn", "mlp"),
    ("adaLN_modulation.1", "modulation"),
)
"""Inside a block's stream: MMAudio's part → foleyzoo's (:class:`MMAudioStreamLayers`)."""

TENSORS: tuple[tuple[str, str], ...] = (
    ("sync_pos_emb", "sync_positions"),
    ("empty_clip_feat", "empty_clip"),
    ("empty_sync_feat", "empty_sync"),
    ("empty_string_feat", "empty_text"),
    ("latent_mean", "latent_mean"),
    ("latent_std", "latent_std"),
)
"""Whole tensors renamed (and reshaped: MMAudio keeps singleton dimensions foleyzoo drops)."""

DROPPED_KEYS: tuple[str, ...] = ("t_embed.freqs", "latent_rot", "clip_rot")
"""Derived buffers some released files hold and MMAudio's ``load_weights`` drops; recomputed, never read."""

_BLOCK = ("joint_blocks", "fused_blocks")


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(path).replace(r"\{i\}", r"(\d+)") + r"\.(.+)")


_MODULE_RULES = tuple((_pattern(source), target) for source, target in MODULES)
_PARTS = dict(BLOCK_PARTS)
_TENSORS = dict(TENSORS)


def foleyzoo_key(key: str) -> str | None:
    """foleyzoo's name of MMAudio's parameter ``key``; None for a dropped key, KeyError for an unknown one."""
    if key in DROPPED_KEYS:
        return None
    if key in _TENSORS:
        return _TENSORS[key]
    for pattern, target in _MODULE_RULES:
        match = pattern.fullmatch(key)
        if match is None:
            continue
        *index, rest = match.groups()
        prefix = target.replace("{i}", index[0]) if index else target
        if key.startswith(_BLOCK):
            part = next((source for source, _ in BLOCK_PARTS if rest.startswith(source + ".")), None)
            if part is None:
                break
            rest = _PARTS[part] + rest[len(part) :]
        return f"{prefix}.{rest}"
    raise KeyError(f"no foleyzoo name for MMAudio parameter {key!r}")


def _qkv_rows(tensor: Tensor, heads: int) -> Tensor:
    """MMAudio's qkv rows (heads × head_dim × 3) → foleyzoo's (3 × heads × head_dim), q and k in half-split order."""
    rows = tensor.shape[0]
    head_dim = rows // (3 * heads)
    by_head = tensor.reshape(heads, head_dim, 3, *tensor.shape[1:]).movedim(2, 0)  # (3, H, D, ...)
    order = half_split_order(head_dim).to(tensor.device)
    q, k, v = by_head.unbind(0)
    reordered = torch.stack([q[:, order], k[:, order], v])
    return reordered.reshape(rows, *tensor.shape[1:])


def convert_state_dict(
    state_dict: Mapping[str, Tensor], heads: int, target_shapes: Mapping[str, torch.Size] | None = None
) -> dict[str, Tensor]:
    """MMAudio's state dict → :class:`MMAudioDenoiser`'s (keys renamed, qkv and q/k norms reordered).

    ``heads`` is the network's head count. With ``target_shapes`` (foleyzoo's state-dict shapes) the
    renamed whole tensors are reshaped to them.
    """
    converted: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = foleyzoo_key(key)
        if name is None:
            continue
        if name.endswith(("qkv.weight", "qkv.bias")):
            value = _qkv_rows(value, heads)
        elif name.endswith(("q_norm.weight", "k_norm.weight")):
            value = value[half_split_order(value.shape[0]).to(value.device)]
        elif key in _TENSORS and target_shapes is not None and name in target_shapes:
            value = value.reshape(target_shapes[name])
        converted[name] = value
    return converted


def name_table() -> list[tuple[str, str]]:
    """(MMAudio name, foleyzoo name) rows for the docs: modules, then a block's parts, then whole tensors."""
    parts = [(f"…{source}", f"…{target}") for source, target in BLOCK_PARTS]
    return [*MODULES, *parts, *TENSORS, *((key, "(dropped)") for key in DROPPED_KEYS)]
