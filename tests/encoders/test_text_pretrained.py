"""Pretrained text encoders: tiny random T5 and CLIP models with tokenizers built here, and MiniLM's real weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from tests.encoders.builders import CLIP_TEXT, VISION, clip_tokenizer, save, save_clip, tiny_t5
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPVisionConfig,
    CLIPVisionModel,
    T5ForConditionalGeneration,
    T5Tokenizer,
)

from foleyzoo.encoders.text import minilm
from foleyzoo.encoders.text.hf_text import CLIPTextEncoder, T5TextEncoder
from foleyzoo.encoders.text.minilm import MiniLMTextEncoder
from foleyzoo.errors import ConfigError

PROMPTS = ["a bell", "", "a wooden knock and a glass clink", "the dog barks at the door"]


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory) -> tuple[Path, T5ForConditionalGeneration, T5Tokenizer]:
    torch.manual_seed(0)
    model, tokenizer = tiny_t5()
    directory = save(tmp_path_factory.mktemp("t5"), model, tokenizer)
    return directory, model, tokenizer


def reference_ids(tokenizer, texts, max_length=64):
    batch = tokenizer(
        list(texts), padding="longest", truncation=True, max_length=max_length, return_tensors="pt"
    )
    return batch["input_ids"], batch["attention_mask"]


# --------------------------------------------------------------------------- T5


def test_t5_reproduces_the_original_encoder(t5_dir):
    directory, model, tokenizer = t5_dir
    encoder = T5TextEncoder(str(directory))
    features = encoder.encode(PROMPTS)

    ids, attention = reference_ids(tokenizer, PROMPTS)
    with torch.no_grad():
        hidden = model.encoder(input_ids=ids, attention_mask=attention).last_hidden_state
    mask = attention.bool()
    assert encoder.embed_dim == 32 and features.tokens.shape == (4, ids.shape[1], 32)
    assert torch.equal(features.mask, mask) and features.mask.sum(1)[2] > features.mask.sum(1)[0]
    assert torch.allclose(features.tokens, hidden * mask.unsqueeze(-1), atol=1e-6)
    assert torch.all(features.tokens[~mask] == 0)
    expected = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(features.pooled, expected, atol=1e-6)
    alone = encoder.encode(["a bell"]).pooled[0]
    assert torch.allclose(alone, features.pooled[0], atol=1e-6)  # padding does not leak into real tokens


def test_t5_truncates_to_max_length(t5_dir):
    encoder = T5TextEncoder(str(t5_dir[0]), max_length=4)
    features = encoder.encode(["a wooden knock and a glass clink and a bell"])
    assert features.tokens.shape[1] == 4 and bool(features.mask.all())


def test_t5_refuses_a_vision_checkpoint(tmp_path):
    directory = tmp_path / "vision"
    CLIPVisionModel(CLIPVisionConfig(**VISION)).save_pretrained(directory)
    with pytest.raises(ConfigError) as info:
        T5TextEncoder(str(directory))
    message = str(info.value)
    assert str(directory) in message and "clip_vision_model" in message and "CLIPVisionModel" in message


def test_t5_missing_directory_names_it(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        T5TextEncoder(str(tmp_path / "t5-base"))
    assert str(tmp_path / "t5-base") in str(info.value)


def test_t5_needs_its_tokenizer(tmp_path, t5_dir):
    directory = tmp_path / "weights-only"
    t5_dir[1].save_pretrained(directory)
    with pytest.raises(ConfigError, match="tokenizer") as info:
        T5TextEncoder(str(directory))
    assert str(directory) in str(info.value)


def test_t5_frozen_and_trainable(t5_dir):
    frozen = T5TextEncoder(str(t5_dir[0]))
    assert not any(p.requires_grad for p in frozen.parameters())
    frozen.train()
    assert not frozen.model.training
    trainable = T5TextEncoder(str(t5_dir[0]), freeze=False)
    trainable.encode(["a bell"]).pooled.sum().backward()
    assert trainable.model.shared.weight.grad is not None


# --------------------------------------------------------------------------- CLIP


def clip_case(name: str):
    """(model, expected embed size, projected?, reference(ids, attention) → (tokens, pooled))."""
    torch.manual_seed(0)
    if name == "image-text":
        model = CLIPModel(CLIPConfig(text_config=CLIP_TEXT, vision_config=VISION, projection_dim=24)).eval()
        return (
            model,
            24,
            True,
            lambda ids, attn: _projected(model.text_model, model.text_projection, ids, attn),
        )
    if name == "text-projection":
        model = CLIPTextModelWithProjection(CLIPTextConfig(projection_dim=24, **CLIP_TEXT)).eval()

        def with_projection(ids, attn):
            out = model(input_ids=ids, attention_mask=attn)
            return model.text_projection(out.last_hidden_state), out.text_embeds

        return model, 24, True, with_projection
    model = CLIPTextModel(CLIPTextConfig(**CLIP_TEXT)).eval()

    def plain(ids, attn):
        out = model(input_ids=ids, attention_mask=attn)
        return out.last_hidden_state, out.pooler_output

    return model, 32, False, plain


def _projected(tower, projection, ids, attn):
    out = tower(input_ids=ids, attention_mask=attn)
    return projection(out.last_hidden_state), projection(out.pooler_output)


@pytest.mark.parametrize("case", ["image-text", "text-projection", "text"])
def test_clip_text_reproduces_the_original_model(tmp_path, case):
    model, dim, projected, reference = clip_case(case)
    encoder = CLIPTextEncoder(str(save_clip(tmp_path / case, model)))
    features = encoder.encode(PROMPTS)

    ids, attention = reference_ids(clip_tokenizer(), PROMPTS, max_length=16)
    mask = attention.bool()
    with torch.no_grad():
        tokens, pooled = reference(ids, attention)
    assert encoder.embed_dim == dim and encoder.projected == projected
    assert features.tokens.shape == (4, ids.shape[1], dim) and features.pooled.shape == (4, dim)
    assert torch.equal(features.mask, mask)
    assert torch.allclose(features.tokens, tokens * mask.unsqueeze(-1), atol=1e-6)
    assert torch.allclose(features.pooled, pooled, atol=1e-6)
    # the pooled vector is the end-of-text token's
    end = mask.sum(1) - 1
    assert torch.allclose(features.tokens[torch.arange(4), end], features.pooled, atol=1e-5)


def test_clip_text_without_projection_and_capped_length(tmp_path):
    model, _, _, _ = clip_case("text-projection")
    encoder = CLIPTextEncoder(str(save_clip(tmp_path / "clip", model)), projection=False, max_length=77)
    assert encoder.embed_dim == 32 and not encoder.projected
    assert encoder.max_length == 16  # the model has 16 positions
    features = encoder.encode(["a wooden knock and a glass clink and a ringing bell"])
    assert features.tokens.shape == (1, 16, 32)
    ids, attention = reference_ids(
        clip_tokenizer(), ["a wooden knock and a glass clink and a ringing bell"], 16
    )
    with torch.no_grad():
        pooled = model.text_model(input_ids=ids, attention_mask=attention).pooler_output
    assert torch.allclose(features.pooled, pooled, atol=1e-6)


def test_clip_text_refuses_a_t5_checkpoint(t5_dir):
    with pytest.raises(ConfigError) as info:
        CLIPTextEncoder(str(t5_dir[0]))
    message = str(info.value)
    assert str(t5_dir[0]) in message and "'t5'" in message and "T5ForConditionalGeneration" in message


def test_clip_text_missing_directory_names_it(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        CLIPTextEncoder(str(tmp_path / "clip" / "text"))
    assert str(tmp_path / "clip" / "text") in str(info.value)


def test_clip_text_frozen_has_no_trainable_parameters(tmp_path):
    model, _, _, _ = clip_case("text")
    directory = save_clip(tmp_path / "clip", model)
    assert not any(p.requires_grad for p in CLIPTextEncoder(str(directory)).parameters())
    assert all(p.requires_grad for p in CLIPTextEncoder(str(directory), freeze=False).parameters())


# --------------------------------------------------------------------------- MiniLM (real weights)


@pytest.fixture(scope="module")
def minilm_encoder() -> MiniLMTextEncoder:
    return MiniLMTextEncoder()  # a missing package fails here with the install hint, never a skip


def test_minilm_places_similar_sounds_together(minilm_encoder):
    features = minilm_encoder.encode(["a bell", "a ringing bell", "a wooden knock"])
    pooled = features.pooled
    assert minilm_encoder.embed_dim == 384 and pooled.shape == (3, 384)
    assert torch.allclose(pooled.norm(dim=-1), torch.ones(3), atol=1e-5)
    near, far = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    assert near > far + 0.2, (near, far)


def test_minilm_matches_sentence_transformers(minilm_encoder):
    """The pooling is all-MiniLM-L6-v2's own: masked mean, then L2 normalisation."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm.packaged_model_dir()), device="cpu")
    expected = reference.encode(PROMPTS, convert_to_tensor=True)
    features = minilm_encoder.encode(PROMPTS)
    assert torch.allclose(features.pooled, expected.cpu(), atol=1e-5)
    assert features.mask.sum(1)[2] > features.mask.sum(1)[0]
    assert torch.allclose(minilm_encoder.encode(["a bell"]).pooled[0], features.pooled[0], atol=1e-6)
    assert not any(p.requires_grad for p in minilm_encoder.parameters())


def test_minilm_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, minilm.PACKAGE, None)  # makes the import fail
    with pytest.raises(ConfigError) as info:
        MiniLMTextEncoder()
    assert 'pip install "foleyzoo[minilm]"' in str(info.value)


def test_minilm_refuses_another_architecture(t5_dir):
    with pytest.raises(ConfigError) as info:
        MiniLMTextEncoder(model=str(t5_dir[0]))
    assert str(t5_dir[0]) in str(info.value) and "'t5'" in str(info.value)
