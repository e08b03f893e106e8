"""Evaluation networks: published layouts load, pre-processing matches the references, bad files are refused."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from tests.stage_checkpoints import TINY_CONTRASTIVE, TINY_SYNC, write_checkpoint

from foleyzoo.api import Video, Waveform
from foleyzoo.data.audio import prepare_audio, resample
from foleyzoo.embedders import AVContrastiveAudio, AVContrastiveVideo, PANNsCNN14, SyncOffsetModel, VGGish
from foleyzoo.embedders.panns import Cnn14, slaney_mel_filterbank
from foleyzoo.embedders.vggish import VGGishNetwork, vggish_examples
from foleyzoo.errors import ConfigError

SMALL_CNN14 = (4, 4, 8, 8, 8, 16)
SMALL_VGGISH = (4, 4, 8, 8, 16, 8)


def test_cnn14_has_the_published_layout():
    """Names and shapes of the 16 kHz checkpoint's tensors (80.8 M parameters incl. the frozen front-end)."""
    shapes = {name: tuple(t.shape) for name, t in Cnn14().state_dict().items()}
    assert shapes["spectrogram_extractor.stft.conv_real.weight"] == (257, 1, 512)
    assert shapes["spectrogram_extractor.stft.conv_imag.weight"] == (257, 1, 512)
    assert shapes["logmel_extractor.melW"] == (257, 64)
    assert shapes["bn0.running_mean"] == (64,) and "bn0.num_batches_tracked" in shapes
    assert shapes["conv_block1.conv1.weight"] == (64, 1, 3, 3)
    assert shapes["conv_block6.conv2.weight"] == (2048, 2048, 3, 3)
    assert shapes["conv_block6.bn2.weight"] == (2048,)
    assert shapes["fc1.weight"] == (2048, 2048) and shapes["fc_audioset.weight"] == (527, 2048)
    assert len(shapes) == 3 + 5 + 6 * 12 + 4  # front-end, bn0, 6 blocks × (2 convs + 2 × 5 bn), fc
    assert not any(name.startswith("spec_augmenter") for name in shapes)


def test_panns_front_end_is_librosa_mel_of_a_hann_power_spectrum():
    mel = slaney_mel_filterbank(16000, 512, 64, 50, 8000)
    assert np.allclose(
        mel, librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=50, fmax=8000).T, atol=1e-6
    )
    model = Cnn14(widths=SMALL_CNN14)
    audio = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    power = model.spectrogram_extractor(audio)[:, 0]
    window = torch.hann_window(512, periodic=True)
    expected = torch.stft(
        audio, 512, 160, window=window, center=True, pad_mode="reflect", return_complex=True
    )
    assert torch.allclose(power, expected.abs().square().transpose(1, 2), rtol=1e-3, atol=1e-2)


def test_panns_loads_a_checkpoint_file_and_embeds_like_the_network(tmp_path):
    torch.manual_seed(0)
    network = Cnn14(widths=SMALL_CNN14).eval()
    for module in network.modules():  # non-trivial statistics, so a wrong load would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    path = tmp_path / "Cnn14_16k_mAP=0.438.pth"
    torch.save({"model": network.state_dict(), "iteration": 1}, path)  # the published files nest it
    embedder = PANNsCNN14(str(path), widths=SMALL_CNN14).train()  # stays in eval mode
    assert not embedder.model.training
    audio = 0.1 * torch.randn(3, 2, 32000, generator=torch.Generator().manual_seed(1))
    result = embedder.embed(Waveform(audio, 32000))  # stereo at 32 kHz: mixed and resampled
    hidden, logits = network(resample(audio.mean(1), 32000, 16000))
    assert result.values.shape == (3, 16) and result.logits.shape == (3, 527)
    assert torch.allclose(result.values, hidden, atol=1e-5) and torch.allclose(
        result.logits, logits, atol=1e-5
    )
    assert bool((result.values >= 0).all())  # the embedding is taken after fc1's ReLU


def test_panns_refuses_missing_garbage_and_foreign_weights(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        PANNsCNN14(str(tmp_path / "absent.pth"))
    assert "absent.pth" in str(info.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ConfigError, match="not a readable checkpoint") as info:
        PANNsCNN14(str(garbage))
    assert str(garbage) in str(info.value)
    vggish = tmp_path / "vggish.safetensors"
    save_file(VGGishNetwork(SMALL_VGGISH).state_dict(), str(vggish))
    with pytest.raises(ConfigError, match="do not fit PANNs CNN14") as info:
        PANNsCNN14(str(vggish), widths=SMALL_CNN14)
    assert str(vggish) in str(info.value) and "missing" in str(info.value)


def test_vggish_has_the_published_layout():
    shapes = {name: tuple(t.shape) for name, t in VGGishNetwork().state_dict().items()}
    assert sorted(shapes) == sorted(
        [f"features.{i}.{p}" for i in (0, 3, 6, 8, 11, 13) for p in ("weight", "bias")]
        + [f"embeddings.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    )
    assert shapes["features.0.weight"] == (64, 1, 3, 3) and shapes["features.13.weight"] == (512, 512, 3, 3)
    assert shapes["embeddings.0.weight"] == (4096, 512 * 4 * 6) and shapes["embeddings.4.weight"] == (
        128,
        4096,
    )


def test_vggish_examples_are_0_96_s_log_mel_patches():
    rate = 16000
    t = torch.arange(8 * rate) / rate
    sine = torch.sin(2 * torch.pi * 1000.0 * t)[None]
    examples = vggish_examples(sine)
    assert examples.shape == (1, 8, 1, 96, 64)  # 798 frames of 10 ms → 8 whole examples
    loudest = int(examples[0, 0, 0].mean(0).argmax())
    centres = 700 * (
        np.exp(np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66) / 1127) - 1
    )
    assert abs(centres[loudest + 1] - 1000.0) < 100  # the band around 1 kHz holds the sine
    silent = vggish_examples(torch.zeros(1, rate))
    assert silent.shape == (1, 1, 1, 96, 64) and torch.allclose(silent, torch.full_like(silent, np.log(0.01)))


def test_vggish_loads_safetensors_and_keeps_one_embedding_an_example(tmp_path):
    torch.manual_seed(2)
    network = VGGishNetwork(SMALL_VGGISH).eval()
    path = tmp_path / "vggish.safetensors"
    save_file(network.state_dict(), str(path))
    embedder = VGGish(str(path), widths=SMALL_VGGISH, duration=3.0)
    audio = 0.2 * torch.randn(2, 1, 16000 * 5, generator=torch.Generator().manual_seed(3))
    per_example = embedder.embed_examples(Waveform(audio, 16000))
    assert per_example.shape == (2, 3, 8)  # cut to 3 s: three 0.96 s examples
    direct = network(vggish_examples(audio[:, 0, : 3 * 16000]).flatten(0, 1)).unflatten(0, (2, 3))
    assert torch.allclose(per_example, direct, atol=1e-5)
    assert torch.allclose(embedder.embed(Waveform(audio, 16000)).values, direct.mean(1), atol=1e-5)


def test_prepare_audio_mixes_resamples_and_fits_the_length():
    rate = 8000
    t = torch.arange(rate) / rate
    left, right = torch.sin(2 * torch.pi * 440 * t), torch.zeros(rate)
    stereo = torch.stack([left, right])[None]
    out = prepare_audio(stereo, rate, 16000, duration=2.0)
    assert out.shape == (1, 1, 32000) and bool((out[..., 16000:] == 0).all())
    up = out[0, 0, 1000:15000]
    expected = 0.5 * torch.sin(2 * torch.pi * 440 * (torch.arange(1000, 15000) / 16000))
    assert float((up - expected).abs().max()) < 1e-2  # a band-limited copy of the mono mix
    assert prepare_audio(stereo, rate, rate, duration=0.5).shape == (1, 1, 4000)


def test_own_models_load_from_fit_checkpoints_and_refuse_the_wrong_one(tmp_path):
    contrastive, module = write_checkpoint(TINY_CONTRASTIVE, tmp_path / "avc.ckpt")
    sync, sync_module = write_checkpoint(TINY_SYNC, tmp_path / "sync.ckpt")
    module.eval()
    audio = AVContrastiveAudio(str(contrastive))
    video = AVContrastiveVideo.sharing(audio)
    generator = torch.Generator().manual_seed(4)
    sound = 0.1 * torch.randn(2, 2, 4 * 16000, generator=generator)
    frames = torch.rand(2, 96, 3, 64, 64, generator=generator)  # 24 fps, 64 × 64: resampled and resized
    a, v = audio.embed(Waveform(sound, 16000)).values, video.embed(Video(frames, 24.0)).values
    with torch.no_grad():
        expected_a = module.embed_audio(Waveform(sound.mean(1, keepdim=True), 16000))
        small = torch.nn.functional.interpolate(frames[:, ::3].flatten(0, 1), size=(32, 32), mode="bilinear")
        expected_v = module.embed_video(Video(small.unflatten(0, (2, 32)), 8.0))
    assert torch.allclose(a, expected_a, atol=1e-5) and torch.allclose(v, expected_v, atol=1e-5)
    with pytest.raises(ConfigError) as info:
        AVContrastiveAudio(str(sync))
    assert str(sync) in str(info.value) and "SyncPretraining" in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        SyncOffsetModel(str(tmp_path / "absent.ckpt"))
    judge = SyncOffsetModel(str(sync), windows=2)
    offsets = judge.predict_offsets(Video(frames, 24.0), Waveform(sound, 16000))
    assert offsets.shape == (2, 2) and set(offsets.flatten().tolist()) <= set(sync_module.offsets.tolist())
    assert judge.starts(4.0) == [0.0, 2.0] and SyncOffsetModel(str(sync)).starts(4.0) == [1.0]
