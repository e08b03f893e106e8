"""EDM2's magnitude-preserving pieces by hand (the constants most likely to drift), and the 1-D VAE's shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from foleyzoo.api import Latents, Waveform
from foleyzoo.codecs.edm2 import MP_EPS, SILU_STD, MPConv1d, fold_weight, mp_silu, mp_sum, pixel_norm
from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.codecs.edm2_vae import EDM2VAEArchitecture, EDM2VAENetwork


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny networks run many times faster so on a small shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_silu_magnitude_is_the_root_mean_square_of_silu_of_a_unit_gaussian():
    """sqrt(∫ silu(x)² φ(x) dx), by quadrature: 0.596 to three digits (its standard deviation is 0.560)."""
    x = np.linspace(-12, 12, 200001)
    density = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    silu = x / (1 + np.exp(-x))
    assert round(math.sqrt(np.trapezoid(silu**2 * density, x)), 3) == SILU_STD == 0.596
    values = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0))
    assert abs(float(mp_silu(values).pow(2).mean().sqrt()) - 1.0) < 5e-3


@pytest.mark.parametrize("t", [0.3, 0.5, 0.9])
def test_mp_sum_is_the_normalised_lerp_and_keeps_unit_variance(t):
    generator = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 1_000_000, generator=generator)
    out = mp_sum(a, b, t)
    torch.testing.assert_close(out, ((1 - t) * a + t * b) / math.sqrt((1 - t) ** 2 + t**2))
    assert abs(float(out.std()) - 1.0) < 5e-3
    assert torch.allclose(mp_sum(a, a, 0.3), a / math.sqrt(0.58), atol=1e-6)  # correlated: not unit


def test_pixel_norm_divides_by_eps_plus_the_channel_rms():
    x = torch.randn(2, 16, 5, generator=torch.Generator().manual_seed(2))
    rms = x.pow(2).mean(dim=1, keepdim=True).sqrt()
    torch.testing.assert_close(pixel_norm(x, dim=1), x / (MP_EPS + rms))
    tiny = torch.full((1, 4, 1), 1e-4)  # rms = ε: halved, where sqrt(mean + ε) would differ entirely
    torch.testing.assert_close(pixel_norm(tiny), torch.full((1, 4, 1), 0.5))


def test_folded_weights_have_unit_norm_rows_whatever_their_scale():
    w = torch.randn(6, 4, 3, generator=torch.Generator().manual_seed(3)) * 7.0
    folded = fold_weight(w)
    fan_in = 12
    expected = w / (MP_EPS + w.flatten(1).norm(dim=1)[:, None, None] / math.sqrt(fan_in)) / math.sqrt(fan_in)
    torch.testing.assert_close(folded, expected)
    assert torch.allclose(folded.flatten(1).norm(dim=1), torch.ones(6), atol=1e-4)
    torch.testing.assert_close(fold_weight(w * 1000), fold_weight(w), rtol=1e-4, atol=1e-7)
    assert folded.dtype == torch.float32


def test_mp_conv_pads_to_the_same_length_and_scales_by_its_gain():
    conv = MPConv1d(3, 5, 3)
    x = torch.randn(2, 3, 9)
    assert conv(x).shape == (2, 5, 9)
    torch.testing.assert_close(conv(x, gain=torch.tensor(2.5)), 2.5 * conv(x))
    torch.testing.assert_close(conv(x), F.conv1d(x, conv.weight, padding=1))
    with pytest.raises(ValueError, match="odd kernel"):
        MPConv1d(3, 5, 4)


@pytest.mark.parametrize("frames", [40, 41])
def test_vae_halves_time_in_the_encoder_and_doubles_it_in_the_decoder(frames):
    arch = EDM2VAEArchitecture(n_mels=10, latent_dim=3, hidden=8)
    network = EDM2VAENetwork(arch).eval()
    with torch.no_grad():
        mean, logvar = network.moments(torch.randn(2, 10, frames))
        assert mean.shape == logvar.shape == (2, 3, frames // 2)
        assert network.decode(mean).shape == (2, 10, 2 * (frames // 2))
    assert arch.downsample == 2 and arch.widths() == [8, 16, 32]
    assert [len(stage.blocks) for stage in network.encoder.stages] == [2, 2, 2]
    assert [len(stage.blocks) for stage in network.decoder.stages] == [3, 3, 3]
    assert network.decoder.stages[1].resample is not None and network.encoder.stages[0].resample is not None


def test_architecture_refuses_resampling_after_the_last_stage():
    with pytest.raises(ValueError, match="before the last"):
        EDM2VAEArchitecture(resample_stages=(2,))


def test_codec_standardises_latents_by_its_statistics_and_undoes_it_on_decode():
    codec = EDM2MelVAE(latent_dim=3, hidden=8).eval()
    audio = Waveform(0.1 * torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(4)), 16000)
    with torch.no_grad():
        raw = codec.encode(audio).values
        assert raw.shape == (1, codec.latent_frames(16000), 3) == (1, 31, 3)
        mean, std = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([2.0, 0.5, 1.5])
        decoded = codec.decode(Latents(raw, codec.latent_rate)).values
        codec.set_latent_statistics(mean, std)
        standard = codec.encode(audio).values
        torch.testing.assert_close(standard, (raw - mean) / std)
        torch.testing.assert_close(codec.decode(Latents(standard, codec.latent_rate)).values, decoded)
        drawn = codec.sample(audio, torch.Generator().manual_seed(0)).values
        assert drawn.shape == standard.shape and not torch.allclose(drawn, standard)
        assert torch.equal(drawn, codec.sample(audio, torch.Generator().manual_seed(0)).values)
    assert codec.latent_rate == 31.25 and codec.mel_config.log10
    with pytest.raises(ValueError, match="std must be positive"):
        codec.set_latent_statistics(mean, -std)
    with pytest.raises(ValueError, match="mono"):
        codec.encode(Waveform(torch.zeros(1, 2, 16000), 16000))
    with pytest.raises(ValueError, match="4 channels, this codec 3"):
        codec.decode(Latents(torch.zeros(1, 5, 4), codec.latent_rate))
