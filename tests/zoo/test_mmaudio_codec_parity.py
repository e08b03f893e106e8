"""foleyzoo's MMAudio front-end, VAE and BigVGANs equal MMAudio's own code: outputs recorded once, compared here.

The goldens (tests/zoo/data/mmaudio_codec_*, written by ``scripts/compare_mmaudio_codec.py record``) hold
MMAudio's outputs for random weights and inputs drawn from seeds: its mel front-end at both rates, a tiny
VAE on the 16 kHz front-end and one of the 44.1 kHz latent size at a reduced width (posterior mean and
log-variance of 1 s and 0.77 s of audio, and a decode), and BigVGAN v1 and v2 at a tiny width plus
v2's other options (weights in the ``weight_g``/``weight_v`` layout of the released files, with the
resampling filters as MMAudio's code stores them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.api import Latents, Mel, Waveform
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.vocoders.alias_free import resampling_filter
from foleyzoo.zoo.mmaudio.codec import CODEC_VARIANTS
from foleyzoo.zoo.mmaudio.codec_parity import (
    VAE_CONFIGS,
    VOCODER_CONFIGS,
    parity_codec,
    parity_latents,
    parity_mel,
    parity_vocoder,
    parity_waveform,
)
from foleyzoo.zoo.testing import random_state_dict, relative_error

DATA = Path(__file__).parent / "data"
TOLERANCE = 1e-4  # relative max-abs error in fp32 (the target for the latents, decode and audio)
FRONT_END_TOLERANCE = 1e-5


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: tiny networks run many times faster so on a small shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.no_grad():
        yield
    torch.set_num_threads(previous)


@cache
def golden(name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(DATA / f"mmaudio_codec_{name}.safetensors"), "pt") as stored:
        return {key: stored.get_tensor(key) for key in stored.keys()}, stored.metadata()  # noqa: SIM118


def recorded_state(name: str, config: dict) -> dict[str, torch.Tensor]:
    """The recorded random weights, regenerated from the seed (stored filters: the ones foleyzoo computes)."""
    _, metadata = golden(name)
    assert json.loads(metadata["config"]) == config, "the configuration changed since recording"
    state = random_state_dict(json.loads(metadata["mmaudio_shapes"]), int(metadata["weights_seed"]))
    state.update({key: resampling_filter(2, 12) for key in state if key.endswith("filter")})
    regenerated = float(sum(state[key].double().abs().sum() for key in sorted(state)))
    assert regenerated == pytest.approx(float(metadata["weights_fingerprint"]), rel=1e-9), (
        "the random weights differ from the recording: re-record with scripts/compare_mmaudio_codec.py record"
    )
    return state


@pytest.mark.parametrize("variant", list(CODEC_VARIANTS))
def test_front_end_equals_mmaudios_mel_converter(variant):
    """Clamp, reflect padding, uncentred STFT, sqrt(re² + im² + 1e-9), Slaney mels, log10 / ln of clamp 1e-5."""
    tensors, metadata = golden("front_end")
    spec = CODEC_VARIANTS[variant]
    audio = parity_waveform(spec.sample_rate, 1.0, seed=int(metadata["inputs_seed"]))
    ours = MelFrontend(MelConfig(**spec.mel_arguments()))(audio[:, None])[:, 0]
    assert (
        ours.shape == tensors[f"mel/{variant}"].shape == (2, spec.n_mels, spec.sample_rate // spec.hop_length)
    )
    assert relative_error(ours, tensors[f"mel/{variant}"]) <= FRONT_END_TOLERANCE


@pytest.mark.parametrize("name", list(VAE_CONFIGS))
def test_vae_posterior_and_decode_equal_mmaudios(name):
    config = VAE_CONFIGS[name]
    tensors, metadata = golden(name)
    codec = parity_codec(config, recorded_state(name, config.describe()))
    spec, seed = CODEC_VARIANTS[config.variant], int(metadata["inputs_seed"])
    for seconds in (1.0, 0.77):
        audio = Waveform(parity_waveform(spec.sample_rate, seconds, seed=seed)[:, None], spec.sample_rate)
        mean, logvar = codec.vae.moments(codec.log_mel(audio))
        expected = tensors[f"encode/{seconds:g}/mean"]
        latents = codec.encode(audio)
        assert latents.values.shape == (2, codec.latent_frames(audio.samples.shape[-1]), config.latent_dim)
        assert relative_error(latents.values.transpose(1, 2), expected) <= TOLERANCE
        assert relative_error(logvar, tensors[f"encode/{seconds:g}/logvar"]) <= TOLERANCE
        assert torch.equal(mean, latents.values.transpose(1, 2))  # unit statistics: the VAE's own latents
    z = parity_latents(config.latent_dim, 20, seed=seed)
    decoded = codec.decode(Latents(z, codec.latent_rate))
    assert (
        decoded.values.shape == (2, 1, config.n_mels, 40)
        and decoded.frame_rate == codec.mel_config.frame_rate
    )
    assert relative_error(decoded.values[:, 0], tensors["decode"]) <= TOLERANCE


@pytest.mark.parametrize("name", list(VOCODER_CONFIGS))
def test_bigvgan_equals_mmaudios_and_returns_frames_times_hop(name):
    config = VOCODER_CONFIGS[name]
    tensors, metadata = golden(name)
    vocoder = parity_vocoder(config, recorded_state(name, config.describe()))
    mel = parity_mel(config.config()["num_mels"], 10, seed=int(metadata["inputs_seed"]))
    audio = vocoder.vocode(Mel(mel[:, None], vocoder.sample_rate, vocoder.mel_settings.frame_rate))
    assert audio.samples.shape == (2, 1, 10 * vocoder.hop_length)
    assert relative_error(audio.samples[:, 0], tensors["vocode"]) <= TOLERANCE


def test_kaiser_filter_equals_the_one_mmaudios_code_stores():
    for name in VOCODER_CONFIGS:
        stored = golden(name)[0]["filter"]
        torch.testing.assert_close(resampling_filter(2, 12).reshape(-1), stored, rtol=0, atol=1e-7)


def test_goldens_are_not_trivial():
    """Outputs depend on their inputs, are far from saturation, and the two clip lengths and rows differ."""
    tensors, _ = golden("vae_tiny_16k")
    mean = tensors["encode/1/mean"]
    assert relative_error(mean[0], mean[1]) > 0.1 and float(mean.std()) > 0.1
    assert relative_error(tensors["encode/0.77/mean"][..., :20], mean[..., :20]) > 1e-3
    for name in VOCODER_CONFIGS:
        audio = golden(name)[0]["vocode"]
        assert relative_error(audio[0], audio[1]) > 1e-2 and float(audio.std()) > 0.02
        assert float((audio.abs() > 0.99).float().mean()) < 0.01  # not the clamp or tanh talking
    front = golden("front_end")[0]["mel/16k"]
    assert float(front.min()) == pytest.approx(-5.0)  # the silent stretch reaches the floor, log10(1e-5)
