"""A pipeline refuses parts that disagree about the mels' logarithm (MMAudio's 16 kHz codec makes log10 mels)."""

from __future__ import annotations

import pytest

from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.errors import ConfigError
from foleyzoo.mmdit.network import MMDiT
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.renderers import DualMono, Mono2Stereo, MotionPanner
from foleyzoo.vocoders import BigVGANVocoder, GriffinLimVocoder

LOG10_VOCODER = {
    "sample_rate": 16000,
    "n_fft": 1024,
    "hop_length": 256,
    "n_mels": 80,
    "f_max": 8000.0,
    "log10": True,
    "upsample_rates": (4, 4, 2, 2, 2, 2),
    "upsample_kernel_sizes": (8, 8, 4, 4, 4, 4),
    "upsample_initial_channel": 64,
}


def pipeline(codec, vocoder, renderer=None) -> FoleyPipeline:
    denoiser = MMDiT(latent_dim=codec.latent_dim, visual_dim=6, text_dim=6, sync_dim=6, hidden=16, heads=2)
    return FoleyPipeline(codec, denoiser, vocoder, data_format={}, renderer=renderer, device="cpu")


@pytest.fixture(scope="module")
def log10_codec() -> EDM2MelVAE:
    return EDM2MelVAE(latent_dim=4, hidden=8)  # MMAudio's 16 kHz front-end: log10 mels


@pytest.mark.parametrize("renderer", [Mono2Stereo, MotionPanner], ids=lambda cls: cls.__name__)
def test_renderers_that_pan_natural_log_mels_refuse_a_log10_codec(log10_codec, renderer):
    with pytest.raises(ConfigError) as raised:
        pipeline(log10_codec, BigVGANVocoder(**LOG10_VOCODER), renderer())
    message = str(raised.value)
    assert f"{renderer.__name__} pans natural-log mels" in message
    assert "EDM2MelVAE makes log10 mels" in message and "use DualMono" in message


def test_dual_mono_follows_a_log10_codec(log10_codec):
    built = pipeline(log10_codec, BigVGANVocoder(**LOG10_VOCODER), DualMono())
    assert isinstance(built.renderer, DualMono)


def test_a_natural_log_codec_keeps_every_renderer():
    codec = EDM2MelVAE(
        sample_rate=44100,
        n_fft=2048,
        hop_length=512,
        n_mels=128,
        f_max=22050.0,
        log10=False,
        latent_dim=4,
        hidden=8,
    )
    vocoder = BigVGANVocoder(upsample_initial_channel=64)
    for renderer in (Mono2Stereo(), MotionPanner(), DualMono()):
        assert pipeline(codec, vocoder, renderer).renderer is renderer


def test_a_vocoder_of_the_other_logarithm_is_refused(log10_codec):
    with pytest.raises(ConfigError, match="makes log10 mels, the vocoder GriffinLimVocoder inverts ln mels"):
        pipeline(log10_codec, GriffinLimVocoder())
