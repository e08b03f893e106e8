"""The tiny Mono2Stereo recipe: it parses to the stereo module, and as committed it reaches the pan target."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.renderers import DualMono, Mono2Stereo


def test_recipe_parses_to_the_stereo_module_on_clean_stereo_clips() -> None:
    from tests.conftest import REPO_ROOT

    from foleyzoo.training.cli import parse_config

    config = parse_config(
        ["fit", "--config", str(REPO_ROOT / "recipes" / "stereo" / "mono2stereo-tiny.yaml")]
    )
    assert config.fit.model.class_path == "foleyzoo.renderers.Mono2Stereo"
    model_args, data_args = config.fit.model.init_args, config.fit.data.init_args
    assert (model_args.sample_rate, model_args.n_fft, model_args.hop_length, model_args.n_mels) == (
        16000,
        512,
        128,
        64,
    )
    assert list(model_args.visual_encoder.init_args.grid) == list(model_args.grid)
    assert (data_args.channels, data_args.clean, data_args.visual_fps) == (2, True, 8.0)


@pytest.mark.slow
def test_tiny_recipe_places_sources_on_held_out_clips(tiny_stages) -> None:
    """The recipe as committed: pan error ≤ 0.08 on 32 held-out clips, against ≈ 0.2 for dual mono."""
    from foleyzoo.codecs.mel import MelFrontend
    from foleyzoo.io.checkpoints import load_module
    from foleyzoo.training.stereo_eval import held_out_clips, render_clip, score_waveforms, tiny_mel_config
    from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder

    model = load_module(tiny_stages.checkpoint("stereo")).eval()
    assert type(model) is Mono2Stereo
    config = tiny_mel_config()
    frontend = MelFrontend(config)
    vocoder = GriffinLimVocoder(config.sample_rate, config.n_fft, config.hop_length, config.n_mels)
    clips = held_out_clips(seed=2024, count=32)
    torch.manual_seed(0)
    learned = score_waveforms([render_clip(model, clip, frontend, vocoder) for clip in clips], clips)
    centred = score_waveforms([render_clip(DualMono(), clip, frontend, vocoder) for clip in clips], clips)
    mono = score_waveforms([clip.mono for clip in clips], clips)
    assert learned["pan_error"] <= 0.08, learned
    assert centred["pan_error"] >= 0.15, centred
    assert learned["ild_error_db"] < centred["ild_error_db"] / 2, (learned, centred)
    assert learned["class_accuracy"] >= mono["class_accuracy"] - 0.02, (learned, mono)
