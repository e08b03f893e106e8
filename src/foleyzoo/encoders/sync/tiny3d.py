"""A small trainable 3-D CNN sync encoder for CPU recipes (the stand-in for Synchformer on SynthFoley)."""

from __future__ import annotations

from einops import rearrange
from torch import nn

from foleyzoo.api import FrameFeatures, SyncEncoder, Video


class TinySync3DCNN(SyncEncoder):
    """Frames (B, T, 3, H, W) at ``fps`` → one feature a frame (B, T, D): spatial stride, no temporal stride.

    Temporal kernels of 3 see motion (a frame and its neighbours), which is what marks an impact; keeping
    full temporal resolution keeps timing precise to one frame.
    """

    api_version = "1.0"

    def __init__(self, fps: float = 24.0, embed_dim: int = 64, width: int = 24) -> None:
        super().__init__()
        self._fps, self._embed_dim = fps, embed_dim
        self.net = nn.Sequential(
            nn.Conv3d(3, width, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)),
            nn.GELU(),
            nn.Conv3d(width, 2 * width, (3, 3, 3), stride=(1, 2, 2), padding=1),
            nn.GELU(),
            nn.Conv3d(2 * width, embed_dim, (3, 3, 3), stride=(1, 2, 2), padding=1),
            nn.AdaptiveAvgPool3d((None, 1, 1)),
        )

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def feature_rate(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        features = self.net(rearrange(video.frames, "b t c h w -> b c t h w") * 2 - 1)
        return FrameFeatures(
            values=rearrange(features, "b d t 1 1 -> b t d"), fps=self.feature_rate, mask=video.mask
        )
