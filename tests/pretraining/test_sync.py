"""SyncPretraining: the offset grid, how pairs are cut, the lag-profile head, prediction, and learning."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.api import Video, Waveform
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN
from foleyzoo.pretraining.sync import LagProfileHead, SyncPretraining, offset_grid
from foleyzoo.pretraining.sync_eval import shift_audio

RATE, FPS = 16000, 24.0


def small_model(**overrides: object) -> SyncPretraining:
    settings: dict = {"sync_encoder": TinySync3DCNN(fps=FPS, embed_dim=16, width=8), "feature_dim": 16}
    settings.update(overrides)
    return SyncPretraining(**settings)


def test_recipe_parses_to_the_registered_module() -> None:
    from tests.conftest import REPO_ROOT

    from foleyzoo.cli.lightning import parse_config

    config = parse_config(["fit", "--config", str(REPO_ROOT / "recipes" / "pretraining" / "sync-tiny.yaml")])
    assert config.fit.model.class_path.endswith(".SyncPretraining")
    assert config.fit.model.init_args.sync_encoder.class_path.endswith(".TinySync3DCNN")
    assert config.fit.data.init_args.cache is True


def test_offset_grid() -> None:
    grid = offset_grid(1.0, 21)
    assert (
        grid.shape == (21,)
        and abs(float(grid[10])) < 1e-6
        and torch.allclose(grid[1] - grid[0], torch.tensor(0.1))
    )
    with pytest.raises(ValueError, match="odd"):
        offset_grid(1.0, 20)


def test_pairs_displace_the_audio_by_the_label() -> None:
    """A click at 2.0 s lands at window time t in the frames and at t + offset in the sound."""
    model = small_model()
    frames = torch.zeros(1, 96, 3, 8, 8)
    frames[0, 48] = 1.0  # a flash at 2.0 s
    samples = torch.zeros(1, 1, 4 * RATE)
    samples[0, 0, 2 * RATE] = 1.0  # a click at 2.0 s
    for label in (3, 7, 10, 16):  # offsets −0.7 … 0.6 s keep the click inside the 2 s window
        video, sound = model.cut_pairs(
            Video(frames, FPS), Waveform(samples, RATE), torch.tensor([label]), torch.tensor([1.0])
        )
        flash = int(video.frames[0].flatten(1).amax(1).argmax()) / FPS
        click = int(sound.samples[0, 0].argmax()) / RATE
        assert flash == pytest.approx(1.0)
        assert click - flash == pytest.approx(float(model.offsets[label]), abs=1 / RATE)


def test_lag_profile_peaks_at_the_shift() -> None:
    torch.manual_seed(0)
    head = LagProfileHead(max_lag=6, classes=3)
    visual = torch.nn.functional.normalize(torch.randn(2, 40, 8), dim=-1)
    audio = torch.roll(visual, shifts=3, dims=1)  # audio feature j equals visual feature j - 3
    profile = head.profile(visual, audio)
    assert profile.shape == (2, 13) and profile.argmax(dim=1).tolist() == [6 + 3, 6 + 3]


def test_shift_audio() -> None:
    samples = torch.arange(10.0)[None]
    assert shift_audio(samples, 2 / RATE).tolist() == [[0, 0, *range(8)]]
    assert shift_audio(samples, -3 / RATE).tolist() == [[*range(3, 10), 0, 0, 0]]


def test_predict_offset_reads_the_grid_and_refuses_short_video() -> None:
    model = small_model().eval()
    video = Video(torch.rand(2, 96, 3, 16, 16), FPS)
    offsets = model.predict_offset(video, Waveform(torch.randn(2, 1, 4 * RATE), RATE))
    assert offsets.shape == (2,) and all(float(o) in model.offsets.tolist() for o in offsets)
    with pytest.raises(ValueError, match="shorter than"):
        model.predict_offset(
            Video(torch.rand(1, 24, 3, 16, 16), FPS), Waveform(torch.randn(1, 1, RATE), RATE)
        )
    with pytest.raises(ValueError, match="max_offset"):
        small_model(window=1.0, max_offset=1.0)


@pytest.mark.slow
def test_tiny_recipe_tells_offsets_of_held_out_clips(tiny_stages) -> None:
    """The recipe as committed: offset class accuracy ≥ 0.8 (chance 1/21) and shifted clean clips ≥ 90 % within a step."""
    from foleyzoo.checkpoints import load_module
    from foleyzoo.pretraining.sync_eval import held_out_clips, offset_accuracy, shifted_clip_offsets

    checkpoint = tiny_stages.checkpoint("sync")
    model = load_module(checkpoint).eval()
    clips = held_out_clips(model, seed=2024, count=32, size=(32, 32))
    classification = offset_accuracy(model, clips)
    shifted = shifted_clip_offsets(model, clips, [-0.8, -0.45, -0.2, 0.0, 0.15, 0.3, 0.55, 0.9])
    assert classification["accuracy"] >= 0.8, classification
    assert shifted["within_one_step"] >= 0.9, shifted
