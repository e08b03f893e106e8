"""MotionPanner: a classical video-motion panner, one pan a frame at the horizontal centroid of what moves.

For each video frame the motion energy of every grid cell is the squared change of its tokens since
the previous frame; the pan position is the energy-weighted mean of the cells' horizontal centres
(the centre when nothing moves). Positions are interpolated to the mel frames' times and applied to
every frequency with the constant-power pan law of :mod:`foleyzoo.renderers.pan`. It needs no training,
but it places all sources of a moment at one position, and it hears what moves, sounding or not.
"""

from __future__ import annotations

import torch
from torch import Tensor

from foleyzoo.api import FrameFeatures, Mel, StereoRenderer
from foleyzoo.encoders.visual.pan_grid import PixelGrid, token_positions
from foleyzoo.renderers.checks import check_mono, check_tokens
from foleyzoo.renderers.pan import apply_pan
from foleyzoo.renderers.timing import mel_frame_times, resample_to_mel

__all__ = ["MotionPanner", "motion_centroids"]


def motion_centroids(
    tokens: Tensor, positions: Tensor, mask: Tensor | None = None, eps: float = 1e-8
) -> Tensor:
    """Tokens (B, T, N, D) and token x (N,) → (B, T − 1) centroid of motion between frames t and t + 1.

    A step with no motion (or one touching a masked frame) is placed at the centre, 0.5.
    """
    energy = (tokens[:, 1:] - tokens[:, :-1]).pow(2).sum(-1)  # (B, T - 1, N)
    if mask is not None:
        energy = energy * (mask[:, 1:] & mask[:, :-1])[..., None]
    total = energy.sum(-1)
    centroid = (energy * positions).sum(-1) / total.clamp_min(eps)
    return torch.where(total > eps, centroid, torch.full_like(centroid, 0.5))


class MotionPanner(StereoRenderer):
    """Mono mel (B, 1, n_mels, T) + tokens on ``grid`` → stereo mel panned frame by frame to the motion centroid.

    ``visual_encoder`` (a :class:`~foleyzoo.encoders.visual.pan_grid.PixelGrid` at ``fps`` on ``grid``) is what
    turns frames into the tokens :meth:`render` expects; any tokens on the same row-major grid work.
    """

    api_version = "1.0"
    mel_log = "ln"
    """Pans natural-log mels (gains are added as natural logarithms); refused with a log10 codec."""

    def __init__(self, fps: float = 24.0, grid: tuple[int, int] = (32, 32)) -> None:
        super().__init__()
        self.visual_encoder = PixelGrid(fps, grid)
        self.grid = self.visual_encoder.grid
        self.register_buffer("positions", torch.tensor(token_positions(self.grid)), persistent=False)

    def positions_at_mel_frames(
        self, visual: FrameFeatures, batch: int, frames: int, frame_rate: float
    ) -> Tensor:
        """(B, frames) pan positions: the per-step motion centroids interpolated to the mel frames' times."""
        tokens = check_tokens(visual, batch, self.grid)
        times = mel_frame_times(frames, frame_rate, device=tokens.device)
        if tokens.shape[1] < 2:  # one frame shows no motion
            return torch.full((batch, frames), 0.5, device=tokens.device)
        centroids = motion_centroids(tokens.float(), self.positions.to(tokens.device), visual.mask)
        steps = (torch.arange(1, tokens.shape[1], device=tokens.device) - 0.5) / visual.fps
        return resample_to_mel(centroids, steps, times)

    def render(self, mono: Mel, visual: FrameFeatures | None) -> Mel:
        check_mono(mono)
        batch, _, _, frames = mono.values.shape
        if visual is None:
            return Mel(mono.values.repeat(1, 2, 1, 1), mono.sample_rate, mono.frame_rate)
        position = self.positions_at_mel_frames(visual, batch, frames, mono.frame_rate)
        return Mel(apply_pan(mono.values, position[:, None, :]), mono.sample_rate, mono.frame_rate)
