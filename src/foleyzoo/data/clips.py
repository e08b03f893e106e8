"""Training items: one clip with every modality time-aligned, and batches of them with masks.

An item holds frames at the visual encoder's fps, frames at the sync encoder's fps and audio at the
codec's rate, all covering the same ``[start, start + duration)`` window of the source, so that the
models downstream can share one time axis. Lengths are derived from duration and rate, never from tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from foleyzoo.api import Video, Waveform
from foleyzoo.errors import MediaError


@dataclass(frozen=True)
class ClipFormat:
    """How each modality is sampled; match it to the encoders and codec that will consume the items.

    A rate of ``None`` leaves that modality out of the items.
    """

    visual_fps: float | None = 8.0
    visual_size: tuple[int, int] = (224, 224)
    sync_fps: float | None = 24.0
    sync_size: tuple[int, int] = (224, 224)
    sample_rate: int | None = 16000
    channels: int = 1
    frame_pick: str = "latest"
    frame_resize: str = "bilinear"
    visual_fit: str = "squash"
    sync_fit: str = "squash"
    """How frames are picked and resized (:func:`~foleyzoo.io.media.read_video_frames`); MMAudio's networks
    saw ``next``, ``bicubic`` and, for Synchformer, ``crop``."""


@dataclass(frozen=True)
class ClipRef:
    """Where an item comes from: a media file, a window in it (``duration`` None: to the end) and a caption."""

    id: str
    path: Path
    start: float = 0.0
    duration: float | None = None
    caption: str = ""


def frame_count(duration: float, fps: float) -> int:
    """Frames of a ``duration``-second window at ``fps`` (at least one)."""
    return max(1, round(duration * fps))


def load_clip(
    ref: ClipRef, fmt: ClipFormat, start: float | None = None, duration: float | None = None
) -> dict:
    """Decode one item: ``{"id", "visual", "sync", "audio", "caption", "start", "duration"}``.

    ``visual``/``sync`` are (T, 3, H, W) in [0, 1] and ``audio`` is (C, N); a modality whose rate is None
    in ``fmt`` is absent. ``start``/``duration`` override the reference's window (random crops).
    """
    from foleyzoo.io.media import probe, read_audio, read_video_frames

    start = ref.start if start is None else start
    duration = duration if duration is not None else ref.duration
    if duration is None:
        duration = probe(ref.path).duration - start
    if duration <= 0:
        raise MediaError(
            f"{ref.path}: nothing to read after {start:.3f} s (the clip is {start + duration:.3f} s long)"
        )
    item: dict[str, Any] = {"id": ref.id, "caption": ref.caption, "start": start, "duration": duration}
    if fmt.sample_rate is not None:  # first: a video without sound fails before any frame is decoded
        item["audio"] = read_audio(ref.path, fmt.sample_rate, fmt.channels, start, duration)
    if fmt.visual_fps is not None:
        item["visual"] = read_video_frames(
            ref.path,
            fmt.visual_fps,
            fmt.visual_size,
            start,
            duration,
            fmt.frame_pick,
            fmt.frame_resize,
            fmt.visual_fit,
        )[0]
    if fmt.sync_fps is not None:
        item["sync"] = read_video_frames(
            ref.path,
            fmt.sync_fps,
            fmt.sync_size,
            start,
            duration,
            fmt.frame_pick,
            fmt.frame_resize,
            fmt.sync_fit,
        )[0]
    return item


def pad_stack(tensors: Sequence[Tensor], dim: int = 0) -> tuple[Tensor, Tensor]:
    """Stack tensors of different lengths along ``dim`` (zero-padded) → (B, ..., T, ...) and mask (B, T)."""
    length = max(t.shape[dim] for t in tensors)
    if all(t.shape[dim] == length for t in tensors):  # nothing to pad: one copy instead of two
        return torch.stack(list(tensors)), torch.ones(len(tensors), length, dtype=torch.bool)
    mask = torch.zeros(len(tensors), length, dtype=torch.bool)
    padded = []
    for row, tensor in enumerate(tensors):
        mask[row, : tensor.shape[dim]] = True
        pad_shape = list(tensor.shape)
        pad_shape[dim] = length - tensor.shape[dim]
        padded.append(torch.cat([tensor, tensor.new_zeros(pad_shape)], dim=dim))
    return torch.stack(padded), mask


def collate_clips(items: Sequence[dict], fmt: ClipFormat) -> dict[str, Any]:
    """Batch items of possibly different lengths into foleyzoo's records, with masks marking real frames.

    Returns ``{"ids", "captions", "has_caption" (B,) bool, "duration" (B, 2: start, length in s),
    "visual": Video, "sync": Video, "audio": Waveform, "audio_mask" (B, N)}`` for the modalities the
    items hold. ``has_caption`` is False for an empty caption, whose text condition should be the
    model's placeholder rather than the encoding of "". Files the items' dataset skipped on the way
    (see :class:`foleyzoo.data.datasets.ClipDataset`) are listed under ``"skipped"``, only when there are any.
    """
    captions = [item["caption"] for item in items]
    batch: dict[str, Any] = {
        "ids": [item["id"] for item in items],
        "captions": captions,
        "has_caption": torch.tensor([bool(caption.strip()) for caption in captions], dtype=torch.bool),
        "duration": torch.tensor([[item["start"], item["duration"]] for item in items], dtype=torch.float32),
    }
    skipped = [path for item in items for path in item.get("skipped", ())]
    if skipped:
        batch["skipped"] = skipped
    if "meta" in items[0]:
        batch["meta"] = [item["meta"] for item in items]  # ground truth, where the source has it
    if "visual" in items[0]:
        frames, mask = pad_stack([item["visual"] for item in items])
        batch["visual"] = Video(frames=frames, fps=float(fmt.visual_fps or 0), mask=mask)
    if "sync" in items[0]:
        frames, mask = pad_stack([item["sync"] for item in items])
        batch["sync"] = Video(frames=frames, fps=float(fmt.sync_fps or 0), mask=mask)
    if "audio" in items[0]:
        samples, mask = pad_stack([item["audio"] for item in items], dim=1)
        batch["audio"] = Waveform(samples=samples, sample_rate=int(fmt.sample_rate or 0))
        batch["audio_mask"] = mask
    return batch
