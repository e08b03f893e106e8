"""Classifier-free guidance as a velocity function for the samplers, and the condition algebra it needs.

Guidance evaluates the conditional and unconditional branches of a batch in one forward pass: the
branches are stacked along the batch, a dropped modality marked absent row by row (an all-False mask,
which a denoiser replaces by its placeholder). Work that depends on the conditions alone is done once a
sampling: the velocity function calls the denoiser's ``prepare`` before its first step and passes the
result to every forward (:meth:`foleyzoo.api.Denoiser.prepare`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from foleyzoo.api import Conditions, FrameFeatures, Latents, TextFeatures

__all__ = [
    "CONDITION_NAMES",
    "RECORD_TYPES",
    "absent",
    "branch_batch",
    "branches_as_conditions",
    "guided_velocity",
    "stack_records",
    "without_rows",
]

CONDITION_NAMES = ("text", "visual", "sync")
"""The modalities a denoiser is conditioned on, as named in :class:`~foleyzoo.api.Conditions`."""

VelocityNet = Callable[[Tensor, Tensor, Conditions], Tensor]
Prepare = Callable[[Conditions, Tensor], Conditions]


def without_rows(features: Any, drop: Tensor) -> Any:
    """``features`` with the rows of ``drop`` (B,) marked absent (all-False masks)."""
    if isinstance(features, TextFeatures):
        return replace(features, mask=features.mask & ~drop[:, None])
    mask = (
        features.mask
        if features.mask is not None
        else torch.ones(features.values.shape[:2], dtype=torch.bool)
    )
    return replace(features, mask=mask.to(drop.device) & ~drop[:, None])


def absent(conditions: Conditions, names: Iterable[str] = CONDITION_NAMES) -> Conditions:
    """The same conditions with ``names`` removed (None): the unconditional branch of guidance."""
    return replace(conditions, **{name: None for name in names})


def _with_mask(features: Any) -> Any:
    """``features`` with an explicit mask (all True where it had none), so rows of branches concatenate."""
    if isinstance(features, TextFeatures) or features.mask is not None:
        return features
    return replace(
        features, mask=torch.ones(features.values.shape[:2], dtype=torch.bool, device=features.values.device)
    )


def _rows(features: Any) -> int:
    return (features.tokens if isinstance(features, TextFeatures) else features.values).shape[0]


def branch_batch(branches: list[tuple[Conditions, Iterable[str]]]) -> Conditions:
    """One batch holding each ``(conditions, names to drop)`` branch in turn, dropped names marked absent by row.

    Classifier-free guidance evaluates the conditional and unconditional branches in one forward pass this
    way. Every branch must have the same modalities present (``None`` in all of them or in none).
    """
    changes: dict[str, Any] = {}
    for name in CONDITION_NAMES:
        values = [getattr(conditions, name) for conditions, _ in branches]
        if all(value is None for value in values):
            changes[name] = None
            continue
        if any(value is None for value in values):
            raise ValueError(f"every guidance branch must hold {name} features, or none of them")
        parts = []
        for (_, dropped), features in zip(branches, values, strict=True):
            features = _with_mask(features)
            if name in set(dropped):
                drop = torch.ones(_rows(features), dtype=torch.bool, device=features.mask.device)
                features = without_rows(features, drop)
            parts.append(features)
        changes[name] = _concatenate(parts)
    durations = [conditions.duration for conditions, _ in branches]
    changes["duration"] = None if any(d is None for d in durations) else torch.cat(durations)
    return replace(branches[0][0], **changes)


def _concatenate(parts: list[Any]) -> Any:
    """Concatenate records of equal layout along the batch (text tokens padded to the longest)."""
    first = parts[0]
    if isinstance(first, TextFeatures):
        length = max(part.tokens.shape[1] for part in parts)
        tokens = torch.cat([F.pad(part.tokens, (0, 0, 0, length - part.tokens.shape[1])) for part in parts])
        mask = torch.cat([F.pad(part.mask, (0, length - part.mask.shape[1])) for part in parts])
        return replace(first, tokens=tokens, mask=mask, pooled=torch.cat([part.pooled for part in parts]))
    return stack_records(parts)


def stack_records(rows: list[Any]) -> Any:
    """Concatenate single-row records back into a batch."""
    first = rows[0]
    if first is None:
        return None
    if isinstance(first, Tensor):
        return torch.cat(rows)
    changes = {}
    for name in first.__dataclass_fields__:
        value = getattr(first, name)
        if isinstance(value, (Tensor, *RECORD_TYPES)):
            changes[name] = stack_records([getattr(row, name) for row in rows])
    return replace(first, **changes)


RECORD_TYPES = (Latents, Conditions, TextFeatures, FrameFeatures)
"""The records whose tensors are stacked and sliced row by row."""


def _prepared_once(prepare: Prepare | None, conditions: Conditions) -> Callable[[Tensor], Conditions]:
    """``x → prepare(conditions, x)``, computed at the first call and reused while x keeps its shape."""
    if prepare is None:
        return lambda x: conditions
    kept: dict[str, Any] = {}

    def get(x: Tensor) -> Conditions:
        key = (tuple(x.shape), x.device, x.dtype)
        if kept.get("key") != key:
            kept["key"], kept["value"] = key, prepare(conditions, x)
        return kept["value"]

    return get


def guided_velocity(
    net: VelocityNet,
    conditions: Conditions,
    scale: float,
    text_scale: float | None = None,
    negative_text: TextFeatures | None = None,
    batched: bool = True,
    prepare: Prepare | None = None,
) -> Callable[[Tensor, Tensor], Tensor]:
    """Classifier-free guidance as a velocity function for a sampler.

    With ``text_scale`` None: v = v(∅) + scale·(v(c) − v(∅)). With a text scale, each condition group gets
    its own (InstructPix2Pix-style): v = v(∅) + scale·(v(video) − v(∅)) + text_scale·(v(video, text) − v(video)).
    A scale of 1 with no text scale is plain conditional sampling (one evaluation a step).
    ``negative_text`` (a negative prompt's features) replaces the absent text in the branches without the
    prompt, so guidance pushes away from it. ``batched`` evaluates all branches in one forward pass.
    ``prepare`` (a denoiser's :meth:`~foleyzoo.api.Denoiser.prepare`) is called once, at the first step,
    and what it returns goes to every forward of the sampling.
    """
    if scale == 1.0 and text_scale is None:
        plain = _prepared_once(prepare, conditions)
        return lambda x, t: net(x, t, plain(x))
    negative = None if negative_text is None else replace(conditions, text=negative_text)
    branches = _guidance_branches(conditions, negative, separate_text=text_scale is not None)

    def combine(outputs: list[Tensor]) -> Tensor:
        if len(outputs) == 2:
            full, empty = outputs
            return empty + scale * (full - empty)
        full, empty, video = outputs
        return empty + scale * (video - empty) + text_scale * (full - video)  # type: ignore[operator]

    if not batched:
        each = [_prepared_once(prepare, given) for given in branches_as_conditions(branches)]
        return lambda x, t: combine([net(x, t, given(x)) for given in each])
    count = len(branches)
    together = _prepared_once(prepare, branch_batch(branches))

    def velocity(x: Tensor, t: Tensor) -> Tensor:
        stacked = torch.cat([x] * count)
        output = net(stacked, torch.cat([t] * count), together(stacked))
        return combine(list(output.chunk(count)))

    return velocity


def _guidance_branches(
    conditions: Conditions, negative: Conditions | None, separate_text: bool
) -> list[tuple[Conditions, tuple[str, ...]]]:
    """(conditions, dropped names) for the full, empty and (with a text scale) video-only branches."""
    has_text = conditions.text is not None
    without_text = (negative, ()) if negative is not None else (conditions, ("text",))
    empty_dropped = ("visual", "sync") if negative is not None else CONDITION_NAMES
    empty_source = negative if negative is not None else conditions
    full = (conditions, ()) if has_text or negative is None else (negative, ("text",))
    branches = [full, (empty_source, empty_dropped)]
    if separate_text and has_text:
        branches.append(without_text)
    return branches


def branches_as_conditions(branches: list[tuple[Conditions, tuple[str, ...]]]) -> list[Conditions]:
    """Each guidance branch on its own: dropped modalities removed (None)."""
    return [absent(conditions, dropped) for conditions, dropped in branches]
