"""Vocoder conformance, Griffin-Lim on a known tone, and the pretrained-weight loaders of Vocos and HiFi-GAN."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.nn.utils import parametrizations, weight_norm

from foleyzoo.api import Mel, Vocoder, Waveform
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.errors import ConfigError
from foleyzoo.vocoders import GriffinLimVocoder, HiFiGANVocoder, VocosVocoder
from foleyzoo.vocoders.losses import multi_resolution_stft, spectral_convergence
from foleyzoo.vocoders.weights import fold_weight_norm

TINY_VOCOS = {"dim": 16, "intermediate_dim": 24, "num_layers": 2}
TINY_HIFIGAN = {
    "sample_rate": 16000,
    "upsample_rates": (8, 8, 4),
    "upsample_kernel_sizes": (16, 16, 8),
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": (3, 5),
    "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5)),
}


def tiny_vocoders() -> list[Vocoder]:
    torch.manual_seed(0)
    return [
        GriffinLimVocoder(iterations=4),
        VocosVocoder(**TINY_VOCOS),
        HiFiGANVocoder(**TINY_HIFIGAN),
        HiFiGANVocoder(**{**TINY_HIFIGAN, "resblock": "2", "resblock_dilation_sizes": ((1, 3), (1, 3))}),
    ]


def tone(frequency: float = 440.0, seconds: float = 1.0, rate: int = 16000) -> torch.Tensor:
    """(1, 1, N) a tone with a 3 Hz tremolo, so frames differ."""
    t = torch.arange(round(seconds * rate)) / rate
    return (0.5 * torch.sin(2 * math.pi * frequency * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t)))[
        None, None
    ]


@pytest.mark.parametrize("vocoder", tiny_vocoders(), ids=lambda v: type(v).__name__)
def test_conformance_shapes_and_stereo_channel_by_channel(vocoder: Vocoder):
    frames = 20
    values = torch.randn(2, 2, 80, frames, generator=torch.Generator().manual_seed(1)) - 4.0
    out = vocoder.vocode(Mel(values, sample_rate=16000, frame_rate=62.5))
    assert isinstance(out, Waveform) and out.sample_rate == vocoder.sample_rate == 16000
    assert vocoder.n_mels == 80
    assert out.samples.shape == (2, 2, (frames - 1) * 256)
    assert torch.isfinite(out.samples).all()
    left = vocoder.vocode(Mel(values[:, :1], sample_rate=16000, frame_rate=62.5)).samples
    right = vocoder.vocode(Mel(values[:, 1:], sample_rate=16000, frame_rate=62.5)).samples
    assert torch.allclose(out.samples, torch.cat([left, right], dim=1), atol=1e-5)
    assert not torch.allclose(left, right, atol=1e-3)


@pytest.mark.parametrize("vocoder", tiny_vocoders()[:2], ids=lambda v: type(v).__name__)
def test_wrong_mel_is_refused(vocoder: Vocoder):
    with pytest.raises(ValueError, match="mel bands"):
        vocoder.vocode(Mel(torch.zeros(1, 1, 64, 10), sample_rate=16000, frame_rate=62.5))
    with pytest.raises(ValueError, match="Hz"):
        vocoder.vocode(Mel(torch.zeros(1, 1, 80, 10), sample_rate=22050, frame_rate=62.5))


def test_griffin_lim_has_no_parameters_and_is_deterministic():
    vocoder = GriffinLimVocoder(iterations=4)
    assert list(vocoder.parameters()) == []
    mel = MelFrontend().mel(Waveform(tone(), 16000))
    assert torch.equal(vocoder.vocode(mel).samples, vocoder.vocode(mel).samples)


def test_griffin_lim_reconstructs_a_tone():
    """Bounds measured: SC 0.103 from the exact magnitude, 0.25 and mel L1 0.31 from the mel (32 iterations)."""
    audio = tone()
    frontend, vocoder = MelFrontend(), GriffinLimVocoder()
    exact = vocoder.griffin_lim(frontend.magnitude(audio)[:, 0])
    assert spectral_convergence(exact, audio[0, :, : exact.shape[-1]]) < 0.15
    first = GriffinLimVocoder(iterations=1).griffin_lim(frontend.magnitude(audio)[:, 0])
    assert spectral_convergence(first, audio[0, :, : first.shape[-1]]) > 0.3  # the iterations do the work
    out = vocoder.vocode(frontend.mel(Waveform(audio, 16000))).samples
    target = audio[..., : out.shape[-1]]
    assert spectral_convergence(out[0], target[0]) < 0.35
    assert (frontend(out) - frontend(target)).abs().mean() < 0.4


def test_multi_resolution_stft_is_zero_for_equal_and_positive_for_different():
    audio = tone()[0]
    assert multi_resolution_stft(audio, audio) < 1e-5
    assert multi_resolution_stft(audio, tone(frequency=880.0)[0]) > 1.0


# --------------------------------------------------------------------------- Vocos loader


def official_vocos_state(seed: int = 3) -> dict[str, torch.Tensor]:
    """A random state dict in the official Vocos layout, with its feature-extractor and window buffers."""
    torch.manual_seed(seed)
    state = {k: torch.randn_like(v) * 0.1 for k, v in VocosVocoder(**TINY_VOCOS).state_dict().items()}
    state["feature_extractor.mel_spec.mel_scale.fb"] = torch.rand(513, 80)
    state["feature_extractor.mel_spec.spectrogram.window"] = torch.hann_window(1024)
    state["head.istft.window"] = torch.hann_window(1024)
    return state


def test_vocos_uses_the_official_key_layout():
    keys = set(VocosVocoder(**TINY_VOCOS).state_dict())
    for key in (
        "backbone.embed.weight",
        "backbone.norm.weight",
        "backbone.convnext.1.dwconv.weight",
        "backbone.convnext.1.norm.bias",
        "backbone.convnext.1.pwconv1.weight",
        "backbone.convnext.1.pwconv2.bias",
        "backbone.convnext.1.gamma",
        "backbone.final_layer_norm.weight",
        "head.out.weight",
        "head.out.bias",
    ):
        assert key in keys
    assert all(k.startswith(("backbone.", "head.")) for k in keys)


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_vocos_loads_a_checkpoint_and_reproduces_its_outputs(tmp_path: Path, suffix: str):
    state, path = official_vocos_state(), tmp_path / f"pytorch_model{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    reference = VocosVocoder(**TINY_VOCOS)
    reference.load_state_dict({k: v for k, v in state.items() if k.startswith(("backbone.", "head.out"))})
    loaded = VocosVocoder(**TINY_VOCOS, checkpoint=str(path))
    fresh = VocosVocoder(**TINY_VOCOS)
    mel = MelFrontend().mel(Waveform(tone(seconds=0.3), 16000))
    assert torch.equal(loaded.vocode(mel).samples, reference.vocode(mel).samples)
    assert not torch.allclose(fresh.vocode(mel).samples, reference.vocode(mel).samples)


def test_vocos_refuses_missing_files_and_other_architectures(tmp_path: Path):
    missing = tmp_path / "nope.bin"
    with pytest.raises(ConfigError, match=r"nope\.bin.*not found"):
        VocosVocoder(**TINY_VOCOS, checkpoint=str(missing))
    wrapped = tmp_path / "g_wrapped.pt"
    torch.save({"generator": HiFiGANVocoder(**TINY_HIFIGAN).state_dict()}, wrapped)
    with pytest.raises(ConfigError, match=r"g_wrapped\.pt.*no state dict of tensors \(found generator\)"):
        VocosVocoder(**TINY_VOCOS, checkpoint=str(wrapped))
    hifigan = tmp_path / "generator.pt"
    torch.save(HiFiGANVocoder(**TINY_HIFIGAN).state_dict(), hifigan)
    with pytest.raises(ConfigError, match=r"generator\.pt.*missing backbone\.convnext.*unexpected conv_post"):
        VocosVocoder(**TINY_VOCOS, checkpoint=str(hifigan))
    wider = tmp_path / "wider.bin"
    torch.save(VocosVocoder(dim=32, intermediate_dim=24, num_layers=2).state_dict(), wider)
    with pytest.raises(
        ConfigError, match=r"wider\.bin.*shape.*convnext\.0\.dwconv\.weight \(32, 1, 7\) vs \(16, 1, 7\)"
    ):
        VocosVocoder(**TINY_VOCOS, checkpoint=str(wider))


# --------------------------------------------------------------------------- HiFi-GAN loader


def official_hifigan_file(path: Path, new_api: bool) -> HiFiGANVocoder:
    """Save a random tiny generator as the official code does (weight norm on, under ``generator``)."""
    torch.manual_seed(5)
    model = HiFiGANVocoder(**TINY_HIFIGAN)
    norm = parametrizations.weight_norm if new_api else weight_norm
    for module in list(model.modules()):
        if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            norm(module)
            g = module.parametrizations.weight.original0 if new_api else module.weight_g
            with torch.no_grad():
                g.mul_(0.5)  # so g differs from ‖v‖ and the folding is exercised
    state = model.state_dict()
    assert any(k.endswith(("weight_g", "original0")) for k in state)
    torch.save({"generator": state}, path)
    return model


@pytest.mark.parametrize("new_api", [False, True], ids=["weight_g_v", "parametrizations"])
def test_hifigan_loads_weight_normed_generator_and_reproduces_its_outputs(tmp_path: Path, new_api: bool):
    path = tmp_path / "g_02500000"
    normed = official_hifigan_file(path, new_api)
    loaded = HiFiGANVocoder(**TINY_HIFIGAN, checkpoint=str(path))
    assert not any("weight_g" in k or "parametrizations" in k for k in loaded.state_dict())
    mel = MelFrontend().mel(Waveform(tone(seconds=0.3), 16000))
    with torch.no_grad():
        expected = normed(mel.values[:, 0])[:, : (mel.values.shape[-1] - 1) * 256]
    assert 0.01 < expected.abs().max() < 0.99  # neither silent nor saturated by tanh
    assert torch.allclose(loaded.vocode(mel).samples[:, 0], expected, atol=1e-5)
    assert not torch.allclose(HiFiGANVocoder(**TINY_HIFIGAN).vocode(mel).samples[:, 0], expected, atol=1e-3)


def test_hifigan_refuses_missing_files_and_other_architectures(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"g_missing.*not found"):
        HiFiGANVocoder(**TINY_HIFIGAN, checkpoint=str(tmp_path / "g_missing"))
    vocos = tmp_path / "vocos.bin"
    torch.save(VocosVocoder(**TINY_VOCOS).state_dict(), vocos)
    with pytest.raises(ConfigError, match=r"vocos\.bin.*HiFi-GAN.*missing conv_post\.bias"):
        HiFiGANVocoder(**TINY_HIFIGAN, checkpoint=str(vocos))
    path = tmp_path / "v1.pt"
    torch.save(
        {"generator": HiFiGANVocoder(**{**TINY_HIFIGAN, "upsample_initial_channel": 32}).state_dict()}, path
    )
    with pytest.raises(ConfigError, match=r"v1\.pt.*shape.*conv_pre\.weight \(32, 80, 7\) vs \(16, 80, 7\)"):
        HiFiGANVocoder(**TINY_HIFIGAN, checkpoint=str(path))


def test_fold_weight_norm_matches_the_normed_weight():
    conv = weight_norm(torch.nn.ConvTranspose1d(4, 3, 5))
    with torch.no_grad():
        conv.weight_g.mul_(2.0)
    folded = fold_weight_norm(conv.state_dict())
    assert set(folded) == {"weight", "bias"}
    conv(torch.zeros(1, 4, 3))  # recompute .weight from g and v
    assert torch.allclose(folded["weight"], conv.weight, atol=1e-6)


def test_hifigan_rejects_rates_that_do_not_multiply_to_the_hop():
    with pytest.raises(ValueError, match="multiply to hop_length"):
        HiFiGANVocoder(**{**TINY_HIFIGAN, "upsample_rates": (8, 8, 2)})


def test_vocoder_mel_config_matches_the_frontend_it_inverts():
    vocoder = GriffinLimVocoder(sample_rate=22050, n_mels=64, f_max=8000.0)
    assert vocoder.mel_settings == MelConfig(sample_rate=22050, n_mels=64, f_max=8000.0)
