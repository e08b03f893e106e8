"""Visual encoders whose tokens keep the frame's layout on a rows × cols grid, for the renderers to see *where*."""

from __future__ import annotations

from einops import rearrange
from torch import nn
from torch.nn import functional as F

from foleyzoo.api import FrameFeatures, Video, VisualEncoder

__all__ = ["PanVisualEncoder", "PixelGrid", "token_positions"]


def token_positions(grid: tuple[int, int]) -> list[float]:
    """Horizontal centre (0 = left edge, 1 = right edge) of each token of a row-major rows × cols grid."""
    rows, cols = grid
    return [(col + 0.5) / cols for _ in range(rows) for col in range(cols)]


def _check_grid(grid: tuple[int, int]) -> tuple[int, int]:
    rows, cols = (int(n) for n in grid)
    if rows < 1 or cols < 1:
        raise ValueError(f"grid must be (rows, cols) with both >= 1, got {tuple(grid)}")
    return rows, cols


class PixelGrid(VisualEncoder):
    """Frames → their mean colour per grid cell as tokens (B, T, rows · cols, 3): no weights, the classical front-end."""

    api_version = "1.0"

    def __init__(self, fps: float = 24.0, grid: tuple[int, int] = (32, 32)) -> None:
        super().__init__()
        self._fps, self.grid = fps, _check_grid(grid)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return 3

    def encode(self, video: Video) -> FrameFeatures:
        batch = video.frames.shape[0]
        cells = F.adaptive_avg_pool2d(rearrange(video.frames, "b t c h w -> (b t) c h w"), self.grid)
        tokens = rearrange(cells, "(b t) c gh gw -> b t (gh gw) c", b=batch)
        return FrameFeatures(values=tokens.mean(2), fps=video.fps, mask=video.mask, tokens=tokens)


class PanVisualEncoder(VisualEncoder):
    """Frames → learned tokens (B, T, rows · cols, D): a 3 × 3 and two 1 × 1 convolutions, max-pooled per cell.

    The layers are local on purpose: what a token must say is what colour and shape of object lies in
    its cell, and max pooling keeps a small object's features whole whatever part of the cell it fills.
    """

    api_version = "1.0"

    def __init__(
        self, fps: float = 8.0, embed_dim: int = 32, width: int = 24, grid: tuple[int, int] = (2, 16)
    ) -> None:
        super().__init__()
        self._fps, self._embed_dim, self.grid = fps, embed_dim, _check_grid(grid)
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, 1),
            nn.GELU(),
            nn.Conv2d(width, embed_dim, 1),
        )
        self.pool = nn.AdaptiveMaxPool2d(self.grid)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        batch = video.frames.shape[0]
        maps = self.pool(self.net(rearrange(video.frames, "b t c h w -> (b t) c h w") * 2 - 1))
        tokens = rearrange(maps, "(b t) d gh gw -> b t (gh gw) d", b=batch)
        return FrameFeatures(values=tokens.mean(2), fps=video.fps, mask=video.mask, tokens=tokens)
