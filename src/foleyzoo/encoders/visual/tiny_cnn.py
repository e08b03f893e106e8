"""A small trainable 2-D CNN visual encoder for CPU recipes (the stand-in for MetaCLIP on SynthFoley)."""

from __future__ import annotations

from einops import rearrange
from torch import nn

from foleyzoo.api import FrameFeatures, Video, VisualEncoder


class TinyVisualCNN(VisualEncoder):
    """Frames → per-frame embeddings (B, T, D) and a coarse grid of patch tokens (B, T, grid², D).

    Four stride-2 convolutions; the last feature map is kept as patch tokens so a stereo renderer can see
    *where* things are, and its mean is the frame embedding.
    """

    api_version = "1.0"

    def __init__(self, fps: float = 8.0, embed_dim: int = 64, width: int = 32, grid: int = 4) -> None:
        super().__init__()
        self._fps, self._embed_dim = fps, embed_dim
        layers, channels = [], 3
        for out in (width, width, 2 * width, embed_dim):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GELU()]
            channels = out
        self.backbone = nn.Sequential(*layers[:-1])
        self.pool = nn.AdaptiveAvgPool2d(grid)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        batch = video.frames.shape[0]
        maps = self.pool(self.backbone(rearrange(video.frames, "b t c h w -> (b t) c h w") * 2 - 1))
        tokens = rearrange(maps, "(b t) d gh gw -> b t (gh gw) d", b=batch)
        return FrameFeatures(values=tokens.mean(2), fps=video.fps, mask=video.mask, tokens=tokens)
