"""open_clip image towers as visual semantic encoders: MMAudio's CLIP frame features (DFN5B ViT-H/14 at 384 px).

MMAudio squashes each frame (8 a second) to the model's square size with torchvision's antialiased
bicubic resize on 8-bit frames, normalises with OpenAI's mean and std, and keeps the L2-normalised image
embedding: (B, T, 1024). This encoder does the same for any open_clip model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from foleyzoo.api import FrameFeatures, Video, VisualEncoder
from foleyzoo.encoders.open_clip_loader import (
    DFN5B_CLIP,
    OPENAI_MEAN,
    OPENAI_STD,
    load_open_clip,
    model_config,
)
from foleyzoo.encoders.pretrained import FramePreprocess, FrozenMixin, encode_frames, freeze_module

__all__ = ["OpenCLIPVisualEncoder"]


def _square(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = (int(value) for value in size)
    return height, width


class OpenCLIPVisualEncoder(FrozenMixin, VisualEncoder):
    """Frames → L2-normalised open_clip image embeddings (B, T, D), as MMAudio computes its CLIP features.

    ``model`` is a folder holding ``open_clip_config.json`` and the weights (``open_clip_pytorch_model.bin``
    or ``.safetensors``), ``hf-hub:org/name`` (from the Hugging Face cache; ``download=True`` fetches it),
    or a built-in open_clip architecture with ``checkpoint=`` a weight file. Only the image tower is kept.
    Frames of another size are squashed (no crop) to the model's size, resized on 8-bit values as
    torchvision does (``uint8_resize``, MMAudio's way); ``batch_size`` bounds how many frames go through at
    once (None: all). ``model_cfg`` (an open_clip model config) builds the architecture alone, its
    weights loaded afterwards (as a bundle does) or from ``checkpoint=``; :attr:`model_cfg` holds it.
    """

    api_version = "1.0"
    requires: ClassVar[dict[str, str]] = {"open_clip": "open_clip_torch"}
    """The optional package it is built with (``foleyzoo plugins`` says how to install it when missing)."""

    def __init__(
        self,
        model: str = DFN5B_CLIP,
        checkpoint: str | None = None,
        fps: float = 8.0,
        download: bool = False,
        normalize: bool = True,
        uint8_resize: bool = True,
        mean: Sequence[float] = OPENAI_MEAN,
        std: Sequence[float] = OPENAI_STD,
        batch_size: int | None = None,
        freeze: bool = True,
        model_cfg: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        clip, source = load_open_clip(model, checkpoint, download, model_cfg is None, model_cfg)
        self.model_cfg = model_config(source)
        self.source, self.frozen = source.label, freeze
        self._fps, self.normalize = float(fps), normalize
        self.batch_size = batch_size
        self.model = clip.visual
        self.image_size = _square(self.model.image_size)
        self._embed_dim = int(self.model.output_dim)
        self.preprocess = FramePreprocess(
            resize="exact",
            size=self.image_size,
            mean=tuple(float(value) for value in mean),
            std=tuple(float(value) for value in std),
            interpolation="bicubic",
            uint8_resize=uint8_resize,
        )
        if freeze:
            freeze_module(self)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        return encode_frames(self, video, self._forward)

    def _forward(self, pixels: Tensor) -> tuple[Tensor, None]:
        step = self.batch_size or max(pixels.shape[0], 1)
        embeddings = torch.cat([self.model(pixels[i : i + step]) for i in range(0, pixels.shape[0], step)])
        return (F.normalize(embeddings, dim=-1) if self.normalize else embeddings), None
