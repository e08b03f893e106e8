"""The mel front-end's options (HiFi-GAN/BigVGAN/MMAudio style): each one alone, and the defaults unchanged."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from foleyzoo.codecs.mel import MelConfig, MelFrontend, mel_filterbank, mel_log_of

MMAUDIO_16K = MelConfig(
    sample_rate=16000,
    n_fft=1024,
    hop_length=256,
    n_mels=80,
    f_max=8000.0,
    log10=True,
    center=False,
    magnitude_eps=1e-9,
    clamp_input=True,
)
MMAUDIO_44K = MelConfig(
    sample_rate=44100,
    n_fft=2048,
    hop_length=512,
    n_mels=128,
    f_max=22050.0,
    center=False,
    magnitude_eps=1e-9,
    clamp_input=True,
)


def noise(samples: int, batch: int = 2, seed: int = 0, scale: float = 0.3) -> torch.Tensor:
    return scale * torch.randn(batch, 1, samples, generator=torch.Generator().manual_seed(seed))


def test_default_front_end_is_bit_identical_to_the_centred_natural_log_one():
    """Today's computation, written out: centred STFT (reflect), |STFT|, Slaney filters, ln(clamp 1e-5)."""
    config = MelConfig()
    assert (config.center, config.magnitude_eps, config.log10, config.clamp_input) == (
        True,
        0.0,
        False,
        False,
    )
    audio = noise(5000)
    spec = torch.stft(
        audio[:, 0],
        n_fft=1024,
        hop_length=256,
        win_length=1024,
        window=torch.hann_window(1024),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()[:, None]
    expected = torch.log(torch.einsum("mf,bcft->bcmt", mel_filterbank(config), spec).clamp_min(1e-5))
    assert torch.equal(MelFrontend(config)(audio), expected)
    assert config.frames_for(5000) == 5000 // 256 + 1 == expected.shape[-1]


@pytest.mark.parametrize("config", [MMAUDIO_16K, MMAUDIO_44K], ids=["16k", "44k"])
def test_mmaudio_filterbanks_match_librosa(config):
    reference = librosa.filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=0.0, fmax=config.f_max
    )
    assert np.abs(mel_filterbank(config).numpy() - reference).max() <= 1e-6 * reference.max()


@pytest.mark.parametrize("samples", [16000, 16100, 1024, 300])
def test_uncentred_front_end_pads_by_reflection_and_gives_n_over_hop_frames(samples):
    """(n_fft − hop) / 2 = 384 samples of reflection each side, no centring: N // 256 frames (zeros below 385)."""
    config = MMAUDIO_16K
    audio = noise(samples, batch=1)
    mel = MelFrontend(config)(audio)
    assert mel.shape[-1] == config.frames_for(samples) == max(0, (samples + 768 - 1024) // 256 + 1)
    if samples >= 1024:
        assert mel.shape[-1] == samples // 256
        mode = "reflect"
    else:
        mode = "constant"
    padded = (
        torch.nn.functional.pad(audio.clamp(-1, 1), (384, 384), mode=mode)[0, 0].numpy().astype(np.float64)
    )
    frames = librosa.util.frame(padded, frame_length=1024, hop_length=256)  # (1024, T), uncentred
    spectrum = np.abs(np.fft.rfft(frames * _hann(1024)[:, None], axis=0))
    reference = np.log10(
        np.maximum(mel_filterbank(config).double().numpy() @ np.sqrt(spectrum**2 + 1e-9), 1e-5)
    )
    assert np.abs(mel[0, 0].double().numpy() - reference).max() <= 1e-5 * np.abs(reference).max()


def _hann(length: int) -> np.ndarray:
    """The periodic Hann window torch.stft uses by default."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def test_each_option_alone():
    base = MelConfig(center=False)
    audio = noise(8000, scale=0.5)
    ln = MelFrontend(base)(audio)
    log10 = MelFrontend(MelConfig(center=False, log10=True))(audio)
    torch.testing.assert_close(log10, ln / math.log(10), rtol=1e-5, atol=1e-6)
    assert mel_log_of(MelFrontend(MelConfig(log10=True))) is None  # a front-end module says nothing itself

    loud = audio * 4.0  # peaks far beyond ±1
    clamped = MelFrontend(MelConfig(center=False, clamp_input=True))
    assert torch.equal(clamped(loud), MelFrontend(base)(loud.clamp(-1, 1)))
    assert not torch.equal(clamped(loud), MelFrontend(base)(loud))

    silence = torch.zeros(1, 1, 4000)
    floor = MelFrontend(base)(silence)
    assert torch.equal(floor, torch.full_like(floor, math.log(1e-5)))  # |STFT| = 0: the floor everywhere
    eps = MelFrontend(MelConfig(center=False, magnitude_eps=1e-3))(silence)
    expected = torch.log((mel_filterbank(base).sum(1) * math.sqrt(1e-3)).clamp_min(1e-5))
    torch.testing.assert_close(eps[0, 0, :, 0], expected)  # sqrt(0 + eps) in every bin


def test_settings_name_their_logarithm_and_refuse_a_negative_eps():
    assert MelConfig().log_name == "ln" and MelConfig(log10=True).log_name == "log10"

    class Part:
        mel_settings = MelConfig(log10=True)

    assert mel_log_of(Part()) == "log10" and mel_log_of(object()) is None
    assert (
        MMAUDIO_16K.side_padding == 384 and MMAUDIO_44K.side_padding == 768 and MelConfig().side_padding == 0
    )
    with pytest.raises(ValueError, match="magnitude_eps must be >= 0"):
        MelConfig(magnitude_eps=-1.0)
