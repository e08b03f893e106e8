"""The quickstart's stages agree on what passes between them: the codec's mels are the renderer's and the vocoder's."""

from __future__ import annotations

from foleyzoo.quickstart import MEL_BANDS, STAGES, _fit_arguments
from foleyzoo.training.cli import parse_config


def _parsed(name: str):
    stage = next(stage for stage in STAGES if stage.name == name)
    return parse_config(_fit_arguments(stage, smoke=False, resumed=False)).fit


def _mel_settings(init_args) -> tuple[int, int, int, int]:
    return (init_args.sample_rate, init_args.n_fft, init_args.hop_length, init_args.n_mels)


def test_codec_renderer_and_vocoder_share_the_quickstarts_mel_settings() -> None:
    codec = _parsed("codec").model.init_args
    renderer = _parsed("stereo").model.init_args
    vocoder = _parsed("v2a").model.init_args.vocoder.init_args
    assert codec.n_mels == MEL_BANDS
    assert _mel_settings(renderer) == _mel_settings(codec)
    assert _mel_settings(vocoder) == _mel_settings(codec)
