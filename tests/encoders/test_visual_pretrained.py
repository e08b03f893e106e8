"""Pretrained visual encoders: tiny random models saved to disk, reloaded, and checked against the originals."""

from __future__ import annotations

import argparse

import pytest
import timm
import torch
from safetensors.torch import save_file
from tests.encoders.builders import TEXT, VISION, VIT, clip_processor, save
from timm.data import create_transform, resolve_model_data_config
from transformers import (
    BertConfig,
    BertModel,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
    MetaClip2VisionConfig,
    MetaClip2VisionModelWithProjection,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from foleyzoo.api import Video
from foleyzoo.encoders.visual.hf_vision import HFVisionEncoder
from foleyzoo.encoders.visual.timm_encoder import TimmVisualEncoder
from foleyzoo.errors import ConfigError

PATCHES = (32 // 8) ** 2


@pytest.fixture
def frames() -> torch.Tensor:
    """(B=2, T=3) frames of 40 × 52 px: not square and not the model's size, so resize and crop matter."""
    return torch.rand(2, 3, 3, 40, 52, generator=torch.Generator().manual_seed(1))


def processed(processor, frames: torch.Tensor) -> torch.Tensor:
    """What transformers' own image processor makes of the frames (already in [0, 1]: no rescale)."""
    return processor(images=list(frames.flatten(0, 1)), return_tensors="pt", do_rescale=False)["pixel_values"]


def clip_reference(tower, projection, pixels):
    """CLIP-style embedding and patch tokens through the final norm (and projection), from the original model."""
    out = tower(pixel_values=pixels)
    pooled, tokens = out.pooler_output, tower.post_layernorm(out.last_hidden_state[:, 1:])
    if projection is not None:
        pooled, tokens = projection(pooled), projection(tokens)
    return pooled, tokens


def build_case(name: str):
    """(model, processor, expected embed size, projected?, reference(pixels) → (pooled, tokens))."""
    torch.manual_seed(0)
    if name == "clip-vision":
        model = CLIPVisionModel(CLIPVisionConfig(**VISION))
        return model, clip_processor(), 32, False, lambda px: clip_reference(model, None, px)
    if name == "clip-vision-projection":
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(projection_dim=24, **VISION))
        return (
            model,
            clip_processor(),
            24,
            True,
            lambda px: clip_reference(model.vision_model, model.visual_projection, px),
        )
    if name == "clip-image-text":
        model = CLIPModel(CLIPConfig(vision_config=VISION, text_config=TEXT, projection_dim=24))
        return (
            model,
            clip_processor(),
            24,
            True,
            lambda px: clip_reference(model.vision_model, model.visual_projection, px),
        )
    if name == "metaclip2":
        model = MetaClip2VisionModelWithProjection(MetaClip2VisionConfig(projection_dim=24, **VISION))
        return (
            model,
            clip_processor(),
            24,
            True,
            lambda px: clip_reference(model.vision_model, model.visual_projection, px),
        )
    model = SiglipVisionModel(SiglipVisionConfig(**VISION))
    processor = SiglipImageProcessor(size={"height": 32, "width": 32})

    def siglip_reference(px):
        out = model(pixel_values=px)
        return out.pooler_output, out.last_hidden_state

    return model, processor, 32, False, siglip_reference


@pytest.mark.parametrize(
    "case", ["clip-vision", "clip-vision-projection", "clip-image-text", "metaclip2", "siglip"]
)
def test_hf_vision_reproduces_the_original_model(tmp_path, frames, case):
    model, processor, dim, projected, reference = build_case(case)
    encoder = HFVisionEncoder(str(save(tmp_path / case, model, processor)), fps=8.0, patch_tokens=True)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    features = encoder.encode(Video(frames, fps=8.0, mask=mask))

    assert encoder.embed_dim == dim and encoder.projected == projected
    assert features.values.shape == (2, 3, dim)
    assert features.tokens is not None and features.tokens.shape == (2, 3, PATCHES, dim)
    assert features.fps == 8.0 and torch.equal(features.mask, mask)
    pixels = processed(processor, frames)
    assert torch.allclose(encoder.preprocess(frames.flatten(0, 1)), pixels, atol=1e-6)
    with torch.no_grad():
        pooled, tokens = reference(pixels)
    assert torch.allclose(features.values.flatten(0, 1), pooled, atol=1e-6)
    assert torch.allclose(features.tokens.flatten(0, 1), tokens, atol=1e-6)


def test_hf_vision_without_projection_returns_the_pooled_hidden_state(tmp_path, frames):
    torch.manual_seed(0)
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(projection_dim=24, **VISION))
    encoder = HFVisionEncoder(str(save(tmp_path / "clip", model, clip_processor())), projection=False)
    features = encoder.encode(Video(frames, fps=8.0))
    assert encoder.embed_dim == 32 and features.values.shape == (2, 3, 32) and features.tokens is None
    with torch.no_grad():
        pooled = model.vision_model(pixel_values=processed(clip_processor(), frames)).pooler_output
    assert torch.allclose(features.values.flatten(0, 1), pooled, atol=1e-6)


def test_hf_vision_uses_the_saved_processor_settings(tmp_path, frames):
    """Changing image_mean/std and the resize in the saved processor changes the output exactly as they say."""
    torch.manual_seed(0)
    model = CLIPVisionModel(CLIPVisionConfig(**VISION))
    custom = CLIPImageProcessor(
        size={"shortest_edge": 48},
        crop_size={"height": 32, "width": 32},
        image_mean=[0.1, 0.7, 0.3],
        image_std=[0.2, 0.4, 0.9],
        resample=2,
    )
    default = HFVisionEncoder(str(save(tmp_path / "default", model, clip_processor())))
    changed = HFVisionEncoder(str(save(tmp_path / "custom", model, custom)))

    assert changed.preprocess.mean == pytest.approx((0.1, 0.7, 0.3))
    assert changed.preprocess.std == pytest.approx((0.2, 0.4, 0.9))
    assert changed.preprocess.size == (48, 48) and changed.preprocess.interpolation == "bilinear"
    video = Video(frames, fps=8.0)
    ours, theirs = changed.encode(video).values, default.encode(video).values
    assert not torch.allclose(ours, theirs, atol=1e-3)
    # by hand: bilinear resize of the short edge (40 → 48, 52 → 62), centre crop 32, normalise
    flat = frames.flatten(0, 1)
    resized = torch.nn.functional.interpolate(
        flat, size=(48, 62), mode="bilinear", antialias=True, align_corners=False
    )
    cropped = resized[..., 8:40, 15:47]
    pixels = (cropped - torch.tensor([0.1, 0.7, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.4, 0.9]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        expected = model(pixel_values=pixels).pooler_output
    assert torch.allclose(ours.flatten(0, 1), expected, atol=1e-6)


def test_hf_vision_missing_directory_names_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="not found") as info:
        HFVisionEncoder(str(missing))
    assert str(missing) in str(info.value)


def test_hf_vision_refuses_a_text_checkpoint(tmp_path):
    directory = save(tmp_path / "bert", BertModel(BertConfig(**TEXT)))
    with pytest.raises(ConfigError) as info:
        HFVisionEncoder(str(directory))
    message = str(info.value)
    assert str(directory) in message and "'bert'" in message and "BertModel" in message


def test_hf_vision_needs_the_image_processor(tmp_path):
    directory = save(tmp_path / "clip", CLIPVisionModel(CLIPVisionConfig(**VISION)))
    with pytest.raises(ConfigError, match="image processor") as info:
        HFVisionEncoder(str(directory))
    assert str(directory) in str(info.value)


def test_hf_vision_directory_without_config_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no config\.json") as info:
        HFVisionEncoder(str(tmp_path / "empty"))
    assert str(tmp_path / "empty") in str(info.value)


def test_hub_id_offline_is_looked_up_in_the_cache_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE") as info:
        HFVisionEncoder("foleyzoo-tests/no-such-model")
    assert "foleyzoo-tests/no-such-model" in str(info.value)


def test_hf_vision_frozen_and_trainable(tmp_path):
    directory = save(tmp_path / "clip", CLIPVisionModel(CLIPVisionConfig(**VISION)), clip_processor())
    frozen = HFVisionEncoder(str(directory))
    assert not any(p.requires_grad for p in frozen.parameters())
    frozen.train()
    assert not frozen.training and not frozen.model.training  # no dropout while its parent trains

    trainable = HFVisionEncoder(str(directory), freeze=False)
    assert all(p.requires_grad for p in trainable.parameters())
    trainable.train()
    assert trainable.model.training
    features = trainable.encode(Video(torch.rand(1, 2, 3, 32, 32), fps=8.0))
    features.values.sum().backward()
    assert trainable.model.embeddings.patch_embedding.weight.grad is not None


# --------------------------------------------------------------------------- timm


TIMM_CASES = {
    "vit": ("vit_tiny_patch16_224", VIT, 32, PATCHES),
    "resnet": ("resnet10t", {"pretrained_cfg_overlay": {"input_size": (3, 48, 48)}}, 512, 4),
    "swin": (
        "swin_tiny_patch4_window7_224",
        dict(img_size=32, embed_dim=16, depths=(1, 1), num_heads=(1, 2), window_size=4),
        32,
        PATCHES,
    ),
}


def timm_reference_tokens(model, pixels: torch.Tensor, case: str) -> torch.Tensor:
    features = model.forward_features(pixels)
    if case == "vit":
        return features[:, model.num_prefix_tokens :]
    if case == "swin":  # channels-last feature map
        return features.flatten(1, 2)
    return features.flatten(2).transpose(1, 2)


@pytest.mark.parametrize("case", list(TIMM_CASES))
def test_timm_reproduces_the_original_model(tmp_path, frames, case):
    name, kwargs, dim, patches = TIMM_CASES[case]
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=7, **kwargs).eval()
    checkpoint = tmp_path / f"{case}.safetensors"
    save_file(model.state_dict(), str(checkpoint))  # with a classifier: the encoder drops it

    encoder = TimmVisualEncoder(name, str(checkpoint), patch_tokens=True, model_kwargs=kwargs)
    features = encoder.encode(Video(frames, fps=8.0))
    assert encoder.embed_dim == dim
    assert features.values.shape == (2, 3, dim) and features.tokens.shape == (2, 3, patches, dim)

    config = resolve_model_data_config(model)
    size = kwargs.get("img_size")
    if size:
        config["input_size"] = (3, size, size)
    transform = create_transform(**config, is_training=False)  # timm's own eval transform
    pixels = torch.stack([transform(frame) for frame in frames.flatten(0, 1)])
    assert torch.allclose(encoder.preprocess(frames.flatten(0, 1)), pixels, atol=1e-6)
    model.reset_classifier(0)
    with torch.no_grad():
        pooled, tokens = model(pixels), timm_reference_tokens(model, pixels, case)
    assert torch.allclose(features.values.flatten(0, 1), pooled, atol=1e-6)
    assert torch.allclose(features.tokens.flatten(0, 1), tokens, atol=1e-6)


def test_timm_uses_the_data_config(tmp_path, frames):
    """A different mean in the model's data config changes the input exactly by that normalisation."""
    torch.manual_seed(0)
    plain = TimmVisualEncoder("vit_tiny_patch16_224", model_kwargs=VIT)
    overlay = {"mean": (0.1, 0.2, 0.3), "std": (0.3, 0.2, 0.1), "crop_pct": 1.0}
    shifted = TimmVisualEncoder(
        "vit_tiny_patch16_224", model_kwargs={**VIT, "pretrained_cfg_overlay": overlay}
    )
    shifted.model.load_state_dict(plain.model.state_dict())
    assert shifted.preprocess.mean == (0.1, 0.2, 0.3) and shifted.preprocess.size == (32, 32)
    assert plain.preprocess.size == (35, 35)  # default crop_pct 0.9: resize to 32 / 0.9, then crop 32

    video = Video(frames, fps=8.0)
    ours = shifted.encode(video).values
    assert not torch.allclose(ours, plain.encode(video).values, atol=1e-3)
    flat = frames.flatten(0, 1)
    resized = torch.nn.functional.interpolate(
        flat, size=(32, 41), mode="bicubic", antialias=True, align_corners=False
    )
    pixels = (resized[..., 4:36] - torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)) / torch.tensor(
        [0.3, 0.2, 0.1]
    ).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = shifted.model(pixels)
    assert torch.allclose(ours.flatten(0, 1), expected, atol=1e-6)


def test_timm_reads_a_torch_file_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, **VIT)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "vit.pt")
    encoder = TimmVisualEncoder("vit_tiny_patch16_224", str(tmp_path / "vit.pt"), model_kwargs=VIT)
    assert torch.equal(encoder.model.pos_embed, model.pos_embed)

    torch.save(
        {"args": argparse.Namespace(lr=0.1), "state_dict": model.state_dict()}, tmp_path / "pickled.pt"
    )
    with pytest.raises(ConfigError, match="not a readable checkpoint") as info:
        TimmVisualEncoder("vit_tiny_patch16_224", str(tmp_path / "pickled.pt"), model_kwargs=VIT)
    assert str(tmp_path / "pickled.pt") in str(info.value)


def test_timm_mismatched_checkpoint_lists_keys(tmp_path):
    other = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    checkpoint = tmp_path / "resnet.safetensors"
    save_file(other.state_dict(), str(checkpoint))
    with pytest.raises(ConfigError) as info:
        TimmVisualEncoder("vit_tiny_patch16_224", str(checkpoint), model_kwargs=VIT)
    message = str(info.value)
    assert str(checkpoint) in message and "missing" in message and "unexpected" in message
    assert "blocks.0." in message and "conv1.0.weight" in message


def test_timm_missing_checkpoint_and_unknown_model(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        TimmVisualEncoder("vit_tiny_patch16_224", str(tmp_path / "absent.safetensors"), model_kwargs=VIT)
    assert str(tmp_path / "absent.safetensors") in str(info.value)
    with pytest.raises(ConfigError, match="no_such_timm_model"):
        TimmVisualEncoder("no_such_timm_model")


def test_timm_frozen_has_no_trainable_parameters():
    encoder = TimmVisualEncoder("vit_tiny_patch16_224", model_kwargs=VIT)
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.model.training
    assert any(
        p.requires_grad
        for p in TimmVisualEncoder("vit_tiny_patch16_224", freeze=False, model_kwargs=VIT).parameters()
    )


def test_hf_vision_computes_in_the_asked_dtype_and_returns_float32(tmp_path, frames):
    torch.manual_seed(0)
    directory = save(tmp_path / "clip", CLIPVisionModel(CLIPVisionConfig(**VISION)), clip_processor())
    half = HFVisionEncoder(str(directory), dtype="bfloat16")
    full = HFVisionEncoder(str(directory))
    assert next(half.model.parameters()).dtype == torch.bfloat16
    video = Video(frames, fps=8.0)
    low, high = half.encode(video).values, full.encode(video).values
    assert low.dtype == torch.float32 and not torch.equal(low, high)
    assert torch.allclose(low, high, atol=0.1)
    with pytest.raises(ConfigError, match="float64"):
        HFVisionEncoder(str(directory), dtype="float64")
