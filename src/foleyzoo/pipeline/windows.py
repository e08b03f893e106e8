"""Videos longer than the training window: overlapping windows on a grid every stream shares, cross-faded.

Window starts lie where latent frames, visual frames and sync frames all begin at once, so each window's
conditions line up with its latents exactly as in training; the overlaps are joined with a raised-cosine
cross-fade in latent space before one decode, so the seams have neither clicks nor drift.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Window:
    """One generation window: its first latent frame and its length in latent frames."""

    start: int
    frames: int


def shared_grid(latent_rate: float, rates: Iterable[float], longest: int = 100_000) -> int:
    """The fewest latent frames after which every rate in ``rates`` also starts a frame (1 when none fit)."""
    rates = [rate for rate in rates if rate]
    for count in range(1, longest + 1):
        seconds = count / latent_rate
        if all(abs(seconds * rate - round(seconds * rate)) < 1e-6 for rate in rates):
            return count
    return 1


def plan_windows(total: int, window: int, overlap: int, grid: int = 1) -> list[Window]:
    """Windows of ``window`` latent frames covering ``total``, consecutive ones overlapping by ≥ ``overlap``.

    Starts are multiples of ``grid`` where one fits between overlaps, else of one latent frame; the last
    window ends at ``total`` (it may be shorter than ``window`` but is always longer than the overlap).
    """
    if total <= window:
        return [Window(0, total)]
    if not 0 <= overlap < window:
        raise ValueError(f"the overlap ({overlap} frames) must be shorter than the window ({window} frames)")
    if (
        grid > window - overlap
    ):  # no shared grid point fits: start on latent frames (frames read at their instants)
        grid = 1
    hop = ((window - overlap) // grid) * grid
    windows, start = [], 0
    while True:
        windows.append(Window(start, min(window, total - start)))
        if start + window >= total:
            return windows
        start += hop


def crossfade(chunks: Sequence[Tensor], windows: Sequence[Window], total: int) -> Tensor:
    """Join window latents (T_k, C) into (total, C): raised-cosine weights where windows overlap."""
    channels = chunks[0].shape[-1]
    summed = torch.zeros(total, channels, dtype=chunks[0].dtype, device=chunks[0].device)
    weights = torch.zeros(total, 1, dtype=chunks[0].dtype, device=chunks[0].device)
    for index, (chunk, window) in enumerate(zip(chunks, windows, strict=True)):
        weight = torch.ones(window.frames, 1, dtype=chunk.dtype, device=chunk.device)
        if index > 0:  # fade in over the overlap with the previous window
            previous = windows[index - 1]
            shared = previous.start + previous.frames - window.start
            weight[:shared, 0] = _ramp(shared, chunk)
        if index + 1 < len(windows):  # fade out over the overlap with the next window
            following = windows[index + 1]
            shared = window.start + window.frames - following.start
            weight[window.frames - shared :, 0] = weight[window.frames - shared :, 0] * _ramp(
                shared, chunk
            ).flip(0)
        summed[window.start : window.start + window.frames] += chunk * weight
        weights[window.start : window.start + window.frames] += weight
    return summed / weights.clamp_min(1e-8)


def _ramp(length: int, like: Tensor) -> Tensor:
    """Raised cosine rising from near 0 to near 1 over ``length`` frames (complementary to its reverse)."""
    positions = (torch.arange(length, dtype=like.dtype, device=like.device) + 0.5) / length
    return 0.5 - 0.5 * torch.cos(math.pi * positions)
