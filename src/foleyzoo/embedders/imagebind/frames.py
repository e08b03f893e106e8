"""ImageBind's video input as av-benchmark builds it: 0.5 fps frames → 3 crops × (T − 1) two-frame clips.

Each 8-bit frame is resized so its shorter side is 224 px (bicubic, antialiased, on 8-bit values as
torchvision does for uint8 tensors), scaled to [0, 1] and normalised with CLIP's
mean and std; no centre crop. Three 224 px squares are taken along the longer side (start, centre rounded
up, end: pytorchvideo's ``uniform_crop``), and every pair of consecutive frames i, i + 1 of each square is
one clip for the vision tower.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["CLIP_MEAN", "CLIP_STD", "SIZE", "crop_offsets", "imagebind_clips", "resize_shorter_side"]

SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resize_shorter_side(frames: Tensor, size: int = SIZE) -> Tensor:
    """uint8 (T, 3, H, W) → uint8 (T, 3, h, w) with min(h, w) = ``size``, the longer side scaled and truncated.

    Resized as 8-bit values by torch's own uint8 kernel (what torchvision uses for uint8 tensors): it rounds
    and clamps between its horizontal and vertical passes, so a float resize differs by many levels where
    bicubic overshoots.
    """
    height, width = frames.shape[-2:]
    short, long = (height, width) if height <= width else (width, height)
    scaled_long = int(size * long / short)
    target = (size, scaled_long) if height <= width else (scaled_long, size)
    if (height, width) == target:
        return frames
    return F.interpolate(
        frames.contiguous(), size=target, mode="bicubic", align_corners=False, antialias=True
    )


def crop_offsets(height: int, width: int, size: int = SIZE) -> list[tuple[int, int]]:
    """(top, left) of the three squares: along the width for landscape or square frames, else the height."""
    top, left = math.ceil((height - size) / 2), math.ceil((width - size) / 2)
    if height > width:
        return [(0, left), (top, left), (height - size, left)]
    return [(top, 0), (top, left), (top, width - size)]


def imagebind_clips(frames: Tensor) -> Tensor:
    """uint8 frames (T, H, W, 3), T ≥ 2 → (3·(T − 1), 3, 2, 224, 224) float32 normalised clips."""
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] < 2:
        raise ValueError(
            f"ImageBind's video clips need at least 2 frames (4 s at 0.5 fps), got {frames.shape[0]}"
        )
    images = resize_shorter_side(frames.permute(0, 3, 1, 2))
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    images = (images.float() / 255.0 - mean) / std  # (T, 3, h, w)
    crops = [
        images[..., top : top + SIZE, left : left + SIZE] for top, left in crop_offsets(*images.shape[-2:])
    ]
    pairs = [
        torch.stack([crop[index], crop[index + 1]], dim=1)  # (3, 2, 224, 224)
        for index in range(images.shape[0] - 1)
        for crop in crops
    ]
    return torch.stack(pairs)
