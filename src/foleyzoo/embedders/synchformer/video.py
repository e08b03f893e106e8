"""av-benchmark's preprocessing of the 25 fps frames Synchformer reads, after decoding."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

__all__ = ["FPS", "IMAGE_SIZE", "preprocess_sync_frames"]

FPS = 25.0
IMAGE_SIZE = 224


def preprocess_sync_frames(frames: Tensor) -> Tensor:
    """uint8 frames (T, H, W, 3) (or (T, 3, H, W)) → float (T, 3, 224, 224) as av-benchmark's ``sync_transform``.

    Shorter side resized to 224 (bicubic, antialiased, on the 8-bit frames, so the result is rounded back to
    8 bits), centre crop to 224 × 224, scaled to [0, 1], then (x − 0.5) / 0.5. torchvision's own functions
    do each step, as the torchvision ``v2`` pipeline av-benchmark composes.
    """
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8 as decoded, got {frames.dtype}")
    if frames.dim() != 4 or 3 not in (frames.shape[1], frames.shape[-1]):
        raise ValueError(f"frames must be (T, H, W, 3) or (T, 3, H, W), got {tuple(frames.shape)}")
    if frames.shape[1] != 3:
        frames = frames.permute(0, 3, 1, 2)
    x = TF.resize(frames, [IMAGE_SIZE], interpolation=InterpolationMode.BICUBIC, antialias=True)
    x = TF.center_crop(x, [IMAGE_SIZE])
    x = TF.to_dtype(x, torch.float32, scale=True)
    return TF.normalize(x, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
