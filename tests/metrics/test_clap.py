"""CLAP through transformers: a tiny random ClapModel saved here loads, embeds as the model does, and scores."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.encoders.builders import clip_tokenizer, save, tiny_t5
from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

from foleyzoo.api import Waveform
from foleyzoo.data.audio import resample
from foleyzoo.embedders import CLAPAudio, CLAPText
from foleyzoo.embedders.clap import load_clap
from foleyzoo.errors import ConfigError
from foleyzoo.metrics import TextAudioScore

TEXT = dict(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=40,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=1,
)
# HTSAT: the last stage's width (patch_embeds_hidden_size · 2^(stages − 1)) is hidden_size
AUDIO = dict(
    hidden_size=16,
    patch_embeds_hidden_size=8,
    depths=[1, 1],
    num_attention_heads=[1, 2],
    window_size=8,
    spec_size=256,
    num_mel_bins=64,
    num_classes=4,
)


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory) -> tuple[Path, ClapModel]:
    tokenizer = clip_tokenizer()
    config = ClapConfig(
        text_config={**TEXT, "vocab_size": len(tokenizer) + 2}, audio_config=AUDIO, projection_dim=16
    )
    torch.manual_seed(0)
    model = ClapModel(config).eval()
    directory = save(tmp_path_factory.mktemp("clap"), model, tokenizer)
    ClapFeatureExtractor(feature_size=64, sampling_rate=48000, max_length_s=2).save_pretrained(directory)
    return directory, model


def test_clap_embeds_audio_and_text_as_the_model_does(clap_dir):
    directory, model = clap_dir
    parts = load_clap(str(directory))
    audio_embedder, text_embedder = CLAPAudio(parts=parts), CLAPText(parts=parts)
    assert audio_embedder.sample_rate == 48000 and audio_embedder.model is text_embedder.model
    sound = 0.1 * torch.randn(2, 2, 16000, generator=torch.Generator().manual_seed(1))
    values = audio_embedder.embed(Waveform(sound, 16000)).values
    extractor = ClapFeatureExtractor.from_pretrained(directory)
    mono48 = resample(sound.mean(1), 16000, 48000)
    features = extractor(
        [row.numpy() for row in mono48], sampling_rate=48000, truncation="rand_trunc", return_tensors="pt"
    )
    with torch.no_grad():
        direct = model.get_audio_features(input_features=features["input_features"])
    direct = direct if isinstance(direct, torch.Tensor) else direct.pooler_output
    assert values.shape == (2, 16) and torch.allclose(
        values, torch.nn.functional.normalize(direct, dim=-1), atol=1e-5
    )
    texts = text_embedder.embed(["a bell", "a glass clink and a wooden knock"]).values
    assert texts.shape == (2, 16) and torch.allclose(texts.norm(dim=1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(texts[0], texts[1], atol=1e-3)
    alone = CLAPText(str(directory)).embed(["a bell"]).values  # padding does not change a caption's embedding
    assert torch.allclose(alone[0], texts[0], atol=1e-5)
    score = TextAudioScore()
    score.update(texts, values)
    assert float(score.compute()) == pytest.approx(float((texts * values).sum(1).mean()), abs=1e-6)


def test_clap_refuses_a_missing_directory_and_another_architecture(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        CLAPAudio(str(tmp_path / "absent"))
    assert "absent" in str(info.value)
    t5 = save(tmp_path / "t5", *tiny_t5())
    with pytest.raises(ConfigError) as info:
        CLAPText(str(t5))
    assert str(t5) in str(info.value) and "'t5'" in str(info.value) and "clap" in str(info.value)
