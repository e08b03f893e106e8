"""MotionPanner follows what moves: a blob moving on one side pulls the sound to that side."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.api import Mel, Video
from foleyzoo.renderers import MotionPanner
from foleyzoo.renderers.motion_panner import motion_centroids


def moving_blob(x: float, frames: int = 24, size: int = 32, fps: float = 24.0) -> Video:
    """A white 4 × 4 square at horizontal centre ``x`` bouncing up and down on gray."""
    video = torch.full((1, frames, 3, size, size), 0.15)
    column = round(x * size)
    for k in range(frames):
        top = 4 + (k * 3) % (size - 8)
        video[0, k, :, top : top + 4, column - 2 : column + 2] = 1.0
    return Video(video, fps)


@pytest.mark.parametrize("x", [0.2, 0.8])
def test_a_moving_blob_is_panned_to_its_side(x: float) -> None:
    panner = MotionPanner(fps=24.0, grid=(32, 32))
    mono = Mel(torch.randn(1, 1, 16, 126, generator=torch.Generator().manual_seed(0)) - 3, 16000, 125.0)
    features = panner.visual_encoder.encode(moving_blob(x))
    positions = panner.positions_at_mel_frames(features, 1, 126, 125.0)
    assert torch.allclose(positions, torch.full_like(positions, x), atol=0.05)
    stereo = panner.render(mono, features).values
    louder_left = (stereo[:, 0] > stereo[:, 1]).float().mean()
    assert louder_left == (1.0 if x < 0.5 else 0.0)


def test_still_frames_leave_the_sound_centred() -> None:
    tokens = torch.ones(1, 5, 4, 3)
    centroids = motion_centroids(tokens, torch.tensor([0.125, 0.375, 0.625, 0.875]))
    assert torch.equal(centroids, torch.full((1, 4), 0.5))
