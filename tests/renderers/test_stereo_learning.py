"""Mono2Stereo learns to place two sources seen at opposite sides of one clip on opposite sides, band by band."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import Tensor

from foleyzoo.api import Mel, Video, Waveform
from foleyzoo.renderers import Mono2Stereo, PanVisualEncoder

RATE, FPS, SECONDS, SIZE = 16000, 8.0, 0.5, 32
TONES = {(1.0, 0.15, 0.15): 500.0, (0.15, 0.3, 1.0): 3000.0}
"""The two sources: a red square that hums at 500 Hz and a blue one that whistles at 3 kHz."""


def scene(xs: tuple[float, float], generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Frames (T, 3, H, W) with the two squares at ``xs`` and their stereo mix (2, N), constant-power panned."""
    frames = torch.full((round(SECONDS * FPS), 3, SIZE, SIZE), 0.2)
    time = torch.arange(round(SECONDS * RATE)) / RATE
    audio = torch.zeros(2, time.shape[0])
    for (colour, tone), x in zip(TONES.items(), xs, strict=True):
        column, top = round(x * SIZE), int(torch.randint(2, SIZE - 8, (), generator=generator))
        frames[:, :, top : top + 5, column - 2 : column + 3] = torch.tensor(colour)[:, None, None]
        level = 0.15 + 0.2 * torch.rand((), generator=generator)
        sound = level * torch.sin(2 * math.pi * tone * time)
        angle = x * math.pi / 2
        audio += torch.stack([math.cos(angle) * sound, math.sin(angle) * sound])
    return frames, audio


def batch_of(positions: list[tuple[float, float]], generator: torch.Generator) -> dict:
    scenes = [scene(xs, generator) for xs in positions]
    return {
        "visual": Video(torch.stack([f for f, _ in scenes]), FPS),
        "audio": Waveform(torch.stack([a for _, a in scenes]), RATE),
    }


def band_of(model: Mono2Stereo, hz: float) -> int:
    """The mel band whose filter peaks nearest ``hz``."""
    freqs = torch.linspace(0, RATE / 2, model.frontend.filters.shape[1])
    return int(model.frontend.filters[:, int((freqs - hz).abs().argmin())].argmax())


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread, as the recipe trains: on a small shared CPU it is many times faster."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_two_sources_at_opposite_sides_get_opposite_pans_after_short_training(one_thread: None) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = Mono2Stereo(
        visual_encoder=PanVisualEncoder(fps=FPS, embed_dim=16, width=8, grid=(2, 8)),
        grid=(2, 8),
        channels=8,
        query_dim=16,
        blocks=1,
        crop_frames=None,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(200):  # each clip draws both positions at random: only the video tells where each sound is
        xs = (0.1 + 0.8 * torch.rand(8, 2, generator=generator)).tolist()
        loss = model.losses(batch_of([tuple(x) for x in xs], generator), crop=False)["loss"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
    low, high = band_of(model, 500.0), band_of(model, 3000.0)
    test = batch_of([(0.15, 0.85), (0.85, 0.15)], torch.Generator().manual_seed(1))
    mono = model.frontend(test["audio"].samples.mean(dim=1, keepdim=True))
    with torch.no_grad():
        stereo = model.render(Mel(mono, RATE, 125.0), model.encode_video(test["visual"])).values
    level_difference = (stereo[:, 1] - stereo[:, 0]).mean(dim=-1)  # (clip, band): log R / L, > 0 = right
    # red (500 Hz) left and blue (3 kHz) right in clip 0, the other way round in clip 1
    assert level_difference[0, low] < -1.0 and level_difference[0, high] > 1.0, level_difference[
        :, [low, high]
    ]
    assert level_difference[1, low] > 1.0 and level_difference[1, high] < -1.0, level_difference[
        :, [low, high]
    ]
