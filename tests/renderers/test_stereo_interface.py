"""The three renderers as StereoRenderer plugins: shapes, the inputs they refuse, DualMono's equal channels."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.api import FrameFeatures, Mel, StereoRenderer, Video
from foleyzoo.renderers import DualMono, Mono2Stereo, MotionPanner, PanVisualEncoder, PixelGrid

RATE, FRAME_RATE = 16000, 125.0


def mono_mel(batch: int = 2, frames: int = 40, bands: int = 64, seed: int = 0) -> Mel:
    generator = torch.Generator().manual_seed(seed)
    return Mel(torch.randn(batch, 1, bands, frames, generator=generator) - 4, RATE, FRAME_RATE)


def small_model() -> Mono2Stereo:
    torch.manual_seed(0)
    return Mono2Stereo(
        visual_encoder=PanVisualEncoder(fps=8.0, embed_dim=8, width=8, grid=(2, 8)),
        grid=(2, 8),
        channels=8,
        query_dim=8,
        blocks=1,
    )


def video(batch: int = 2, frames: int = 3, fps: float = 8.0) -> Video:
    return Video(torch.rand(batch, frames, 3, 32, 32, generator=torch.Generator().manual_seed(1)), fps)


def renderers_with_features() -> list[tuple[StereoRenderer, FrameFeatures | None]]:
    model, panner = small_model(), MotionPanner(fps=8.0, grid=(8, 8))
    return [
        (DualMono(), None),
        (model, model.encode_video(video())),
        (panner, panner.visual_encoder.encode(video())),
    ]


def test_every_renderer_maps_mono_to_stereo_of_the_same_size() -> None:
    mono = mono_mel()
    for renderer, features in renderers_with_features():
        assert isinstance(renderer, StereoRenderer)
        stereo = renderer.render(mono, features)
        assert stereo.values.shape == (2, 2, 64, 40), type(renderer).__name__
        assert (stereo.sample_rate, stereo.frame_rate) == (RATE, FRAME_RATE)
        assert torch.isfinite(stereo.values).all()


def test_dual_mono_gives_equal_channels_equal_to_the_input() -> None:
    mono = mono_mel()
    stereo = DualMono().render(mono, None)
    assert torch.equal(stereo.values[:, 0], stereo.values[:, 1])
    assert torch.equal(stereo.values[:, :1], mono.values)


@pytest.mark.parametrize("shape", [(2, 2, 64, 40), (2, 64, 40, 1), (2, 1, 32, 40)])
def test_a_mel_of_the_wrong_shape_is_refused_naming_the_shape_expected(shape: tuple[int, ...]) -> None:
    bad = Mel(torch.zeros(shape), RATE, FRAME_RATE)
    model = small_model()
    with pytest.raises(ValueError, match=r"\(B, 1, 64, T\)"):
        model.render(bad, model.encode_video(video()))
    if shape[2] == 64:  # the baselines take any number of bands
        with pytest.raises(ValueError, match=r"\(B, 1, n_mels, T\)"):
            DualMono().render(bad, None)


def test_tokens_that_are_missing_or_on_another_grid_are_refused() -> None:
    model, mono = small_model(), mono_mel()
    features = model.encode_video(video())
    with pytest.raises(ValueError, match="no tokens"):
        model.render(mono, FrameFeatures(features.values, features.fps))
    with pytest.raises(ValueError, match=r"\(2, T, 16, 8\)"):
        model.render(mono, PixelGrid(8.0, (4, 4)).encode(video()))
    with pytest.raises(ValueError, match=r"\(2, T, 64, D\)"):
        MotionPanner(grid=(8, 8)).render(mono, PixelGrid(8.0, (4, 4)).encode(video()))


def test_a_mel_for_another_rate_is_refused() -> None:
    model = small_model()
    with pytest.raises(ValueError, match=r"16000 Hz at 125\.0 frames/s"):
        model.render(Mel(torch.zeros(2, 1, 64, 10), 22050, 86.1), model.encode_video(video()))


def test_without_video_every_renderer_keeps_the_sound_centred() -> None:
    mono = mono_mel()
    for renderer in (small_model(), MotionPanner()):
        stereo = renderer.render(mono, None)
        assert torch.equal(stereo.values[:, 0], mono.values[:, 0])
        assert torch.equal(stereo.values[:, 1], mono.values[:, 0])


def test_mono2stereo_moves_sound_between_channels_and_keeps_the_downmix() -> None:
    """Untrained random weights: the pair still averages to the mono input, bin by bin, yet is not centred."""
    model, mono = small_model(), mono_mel()
    with torch.no_grad():
        stereo = model.render(mono, model.encode_video(video())).values
    assert torch.allclose(stereo.exp().mean(dim=1), mono.values[:, 0].exp(), rtol=1e-4)
    assert (stereo[:, 0] - stereo[:, 1]).abs().max() > 1e-3
