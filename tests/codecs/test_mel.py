"""The mel front-end against librosa, an independent reference implementation."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from foleyzoo.api import Waveform
from foleyzoo.codecs.mel import MelConfig, MelFrontend, mel_filterbank

CONFIGS = [
    MelConfig(),
    MelConfig(sample_rate=44100, n_fft=2048, hop_length=512, n_mels=128),  # the paper-scale codec's
    MelConfig(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=80, f_min=20.0, f_max=8000.0),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.sample_rate}-{c.n_mels}")
def test_filterbank_matches_librosa(config):
    reference = librosa.filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.f_min, fmax=config.f_max
    )
    assert np.abs(mel_filterbank(config).numpy() - reference).max() < 1e-6 * reference.max()


def test_log_mel_matches_librosa_and_reports_its_rate():
    config = MelConfig()
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    reference = librosa.feature.melspectrogram(
        y=audio, sr=16000, n_fft=1024, hop_length=256, n_mels=80, power=1.0, center=True, pad_mode="reflect"
    )
    mel = MelFrontend(config).mel(Waveform(torch.from_numpy(audio)[None, None], 16000))
    assert mel.values.shape == (1, 1, 80, config.frames_for(16000)) == (1, 1, *reference.shape)
    assert np.allclose(mel.values[0, 0].exp().numpy(), reference, rtol=1e-4, atol=1e-6)
    assert mel.frame_rate == 62.5


def test_wrong_sample_rate_is_refused():
    with pytest.raises(ValueError, match="audio is 44100 Hz, this front-end expects 16000 Hz"):
        MelFrontend().mel(Waveform(torch.zeros(1, 1, 4410), 44100))
