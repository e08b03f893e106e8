"""BigVGAN by hand: SnakeBeta, the Kaiser-windowed filter (against scipy), resampling, lengths, config and files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import signal

from foleyzoo.api import Mel
from foleyzoo.errors import ConfigError
from foleyzoo.vocoders.alias_free import (
    AntiAliasedActivation,
    DownSample1d,
    Snake,
    SnakeBeta,
    UpSample1d,
    kaiser_beta,
    kaiser_sinc_filter,
)
from foleyzoo.vocoders.bigvgan import BigVGANVocoder, config_arguments

TINY = {"upsample_initial_channel": 64}


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny networks of hundreds of small convolutions run many times faster so on a
    small shared CPU (as in tests/renderers/test_stereo_learning.py)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.no_grad():
        yield
    torch.set_num_threads(previous)


def test_snakebeta_and_snake_follow_their_formulas():
    act = SnakeBeta(3, logscale=True)
    with torch.no_grad():
        act.alpha.copy_(torch.tensor([0.0, 0.5, -1.0]))
        act.beta.copy_(torch.tensor([1.0, -0.3, 0.2]))
    x = torch.linspace(-4, 4, 50).repeat(2, 3, 1)
    alpha, beta = np.exp([0.0, 0.5, -1.0])[:, None], np.exp([1.0, -0.3, 0.2])[:, None]
    xs = x[0].double().numpy()
    expected = xs + np.sin(alpha * xs) ** 2 / (beta + 1e-9)
    np.testing.assert_allclose(act(x)[1].double().numpy(), expected, rtol=1e-5, atol=1e-6)
    linear = Snake(3, logscale=False)
    with torch.no_grad():
        linear.alpha.copy_(torch.tensor([1.0, 2.0, 0.5]))
    a = np.array([1.0, 2.0, 0.5])[:, None]
    np.testing.assert_allclose(
        linear(x)[0].double().numpy(), xs + np.sin(a * xs) ** 2 / (a + 1e-9), rtol=1e-5, atol=1e-6
    )


def test_kaiser_filter_is_scipys_kaiser_window_times_a_sinc_summing_to_one():
    """12 taps, cutoff 1/4, half-width 0.3: A = 2.285·5·π·1.2 + 7.95 dB (BigVGAN counts kernel/2 − 1 taps)."""
    attenuation = 2.285 * (6 - 1) * math.pi * (4 * 0.3) + 7.95
    beta = kaiser_beta(attenuation)
    assert beta == pytest.approx(signal.kaiser_beta(attenuation), rel=1e-12)
    assert kaiser_beta(10.0) == 0.0 == signal.kaiser_beta(10.0) and kaiser_beta(60.0) == signal.kaiser_beta(
        60.0
    )
    taps = np.arange(-6, 6) + 0.5
    expected = np.kaiser(12, beta) * 0.5 * np.sinc(0.5 * taps)
    expected /= expected.sum()
    ours = kaiser_sinc_filter(0.25, 0.3, 12)
    np.testing.assert_allclose(ours.double().numpy(), expected, rtol=1e-6, atol=1e-7)
    assert ours.sum() == pytest.approx(1.0, abs=1e-6) and torch.allclose(ours, ours.flip(0))
    response = np.abs(np.fft.rfft(ours.double().numpy(), 512))
    assert response[0] == pytest.approx(1.0) and response[-1] < 0.02  # passes DC, stops the Nyquist frequency
    odd = kaiser_sinc_filter(0.25, 0.3, 11)  # odd kernels centre a tap on 0
    assert odd.argmax() == 5 and torch.allclose(odd, odd.flip(0))


def test_resampling_doubles_and_halves_and_keeps_slow_signals():
    up, down = UpSample1d(2, 12), DownSample1d(2, 12)
    x = torch.ones(1, 2, 30) * torch.tensor([[[0.5], [-2.0]]])
    torch.testing.assert_close(up(x), x.repeat_interleave(2, -1))  # replicate edges: a constant stays
    torch.testing.assert_close(down(up(x)), x)
    t = torch.arange(200, dtype=torch.float32)
    slow = torch.sin(2 * math.pi * t / 40)[None, None]
    assert up(slow).shape[-1] == 400 and down(up(slow)).shape[-1] == 200
    error = (down(up(slow)) - slow)[..., 20:-20].abs().max()
    assert error < 0.02  # away from the edges, a tone far below Nyquist survives the round trip
    identity = AntiAliasedActivation(torch.nn.Identity())
    assert float((identity(slow) - slow)[..., 20:-20].abs().max()) < 0.02


@pytest.mark.parametrize("frames", [1, 7])
def test_vocoder_returns_frames_times_hop_samples_per_channel(frames):
    vocoder = BigVGANVocoder(**TINY).eval()
    mel = torch.randn(2, 2, 128, max(frames, 2))
    audio = vocoder.vocode(Mel(mel, 44100, 44100 / 512))
    assert audio.samples.shape == (2, 2, max(frames, 2) * 512) and audio.sample_rate == 44100
    with torch.no_grad():
        torch.testing.assert_close(audio.samples[1, 0], vocoder(mel[1:2, 0])[0])  # channels alone
    assert audio.samples.abs().max() <= 1.0  # v2 clamps


def test_official_config_is_read_and_checked(tmp_path):
    config = {
        "resblock": "1",
        "upsample_rates": [8, 4, 2, 2, 2, 2],
        "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4],
        "upsample_initial_channel": 64,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "use_tanh_at_final": False,
        "use_bias_at_final": False,
        "activation": "snakebeta",
        "snake_logscale": True,
        "num_mels": 128,
        "n_fft": 2048,
        "hop_size": 512,
        "win_size": 2048,
        "sampling_rate": 44100,
        "fmin": 0,
        "fmax": None,
        "batch_size": 4,  # training keys are ignored
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    vocoder = BigVGANVocoder.from_config(path)
    assert vocoder.hop_length == 512 and vocoder.n_mels == 128 and vocoder.generator.conv_post.bias is None
    assert vocoder.mel_settings.f_max is None and not vocoder.mel_settings.center
    with pytest.raises(ConfigError, match="multiply to 512, not hop_size 256"):
        config_arguments({**config, "hop_size": 256}, "c.json")
    with pytest.raises(ConfigError, match=r"c\.json: not a BigVGAN config: no 'upsample_rates'"):
        config_arguments({k: v for k, v in config.items() if k != "upsample_rates"}, "c.json")
    with pytest.raises(ConfigError, match="win_size 1024 differs from n_fft 2048"):
        config_arguments({**config, "win_size": 1024}, "c.json")
    with pytest.raises(ConfigError, match="activation must be 'snake' or 'snakebeta'"):
        config_arguments({**config, "activation": "relu"}, "c.json")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json: not a readable BigVGAN config\.json"):
        BigVGANVocoder.from_config(path)


def test_checkpoints_of_either_weight_norm_layout_or_folded_load_the_same(tmp_path):
    """Official files hold weight_g/weight_v pairs (and resampling filters); newer torch writes parametrizations."""
    torch.manual_seed(0)
    vocoder = BigVGANVocoder(**TINY).eval()
    old, new = {}, {}
    for key, value in vocoder.generator.state_dict().items():
        if key.endswith("weight") and value.dim() == 3:
            norm = value.flatten(1).norm(dim=1).reshape(-1, 1, 1)
            g, v = norm, value * 3.0  # g · v / ‖v‖ = value
            old[key + "_g"], old[key + "_v"] = g, v
            stem = key[: -len("weight")]
            new[stem + "parametrizations.weight.original0"] = g
            new[stem + "parametrizations.weight.original1"] = v
        else:
            old[key] = new[key] = value
    old["activation_post.upsample.filter"] = kaiser_sinc_filter(0.25, 0.3, 12).view(1, 1, -1)
    mel = torch.randn(1, 128, 4)
    with torch.no_grad():
        expected = vocoder(mel)
    for name, state in (("old", old), ("new", new)):
        torch.save({"generator": state}, tmp_path / f"{name}.pt")
        loaded = BigVGANVocoder(**TINY, checkpoint=str(tmp_path / f"{name}.pt")).eval()
        with torch.no_grad():
            torch.testing.assert_close(loaded(mel), expected)
