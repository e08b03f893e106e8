"""open_clip encoders: equal to MMAudio's CLIP features (golden recorded with its code), safe loading, errors.

The golden (``data/mmaudio_clip_golden.safetensors``, written by ``scripts/compare_mmaudio_clip.py record``)
holds 8-bit frames, MMAudio's image and text features of them and of three prompts, and the reduced
model's config and weight seed; the weights are drawn again here from that seed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tests.encoders.builders import save_open_clip

from foleyzoo.api import Video
from foleyzoo.encoders.pretrained import FramePreprocess, resize_as_uint8
from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder
from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.testing import relative_error

GOLDEN = Path(__file__).parent / "data" / "mmaudio_clip_golden.safetensors"


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> tuple[dict[str, torch.Tensor], dict[str, str], Path]:
    with safe_open(str(GOLDEN), "pt") as handle:
        metadata = handle.metadata()
    folder = tmp_path_factory.mktemp("golden") / "model"
    save_open_clip(folder, json.loads(metadata["model_cfg"]), seed=int(metadata["weights_seed"]))
    return load_file(str(GOLDEN)), metadata, folder


def test_image_features_equal_mmaudios(golden):
    tensors, _, folder = golden
    encoder = OpenCLIPVisualEncoder(str(folder))
    frames = tensors["frames"].float() / 255.0  # 60 × 80: squashed to 384 × 384 on 8-bit values
    with torch.no_grad():
        features = encoder.encode(Video(frames, fps=8.0))
    assert features.values.shape == tensors["clip_features"].shape
    assert relative_error(features.values, tensors["clip_features"]) <= 1e-4
    assert torch.allclose(features.values.norm(dim=-1), torch.ones(2, 3), atol=1e-5)


def test_text_features_equal_mmaudios_at_all_77_positions(golden):
    tensors, metadata, folder = golden
    encoder = OpenCLIPTextEncoder(str(folder))
    with torch.no_grad():
        features = encoder.encode(json.loads(metadata["prompts"]))
    assert features.tokens.shape == tensors["text_features"].shape == (3, 77, encoder.embed_dim)
    assert relative_error(features.tokens, tensors["text_features"]) <= 1e-4
    assert features.mask.all()  # MMAudio attends to the padding positions too


def test_mask_padding_marks_the_tokens_up_to_the_end_token(golden):
    _, _, folder = golden
    encoder = OpenCLIPTextEncoder(str(folder), mask_padding=True)
    features = encoder.encode(["a dog", "", "a dog barking twice"])
    lengths = features.mask.sum(1).tolist()
    assert lengths == [4, 2, 6]  # start, the words, end
    assert features.tokens[0, 4:].abs().max() == 0
    assert torch.equal(features.pooled[1], features.tokens[1, 1])  # the pooled vector is the end token's


def test_a_frame_of_the_models_size_is_not_resized(tmp_path):
    encoder = OpenCLIPVisualEncoder(str(save_open_clip(tmp_path / "m")))
    frames = torch.rand(1, 2, 3, 32, 32)
    expected = encoder.preprocess(frames[0])
    mean = torch.tensor(encoder.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(encoder.preprocess.std).view(1, 3, 1, 1)
    assert torch.allclose(expected, (frames[0] - mean) / std)


def test_resize_as_uint8_is_torchvisions_8_bit_resize():
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    levels = torch.randint(
        0, 256, (2, 3, 45, 61), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    ours = resize_as_uint8(levels.float() / 255.0, (38, 38))
    theirs = TF.resize(levels, [38, 38], interpolation=InterpolationMode.BICUBIC, antialias=True)
    assert torch.equal(ours, theirs.float() / 255.0)
    float_resize = FramePreprocess(resize="exact", size=(38, 38))(levels.float() / 255.0)
    assert (float_resize - ours).abs().max() > 0  # the float path rounds differently: the option matters
    assert torch.equal(
        FramePreprocess(resize="exact", size=(38, 38), uint8_resize=True)(levels / 255.0), ours
    )


# ------------------------------------------------------------------ bad input


def test_a_folder_without_config_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: an open_clip model folder needs open_clip_config.json"):
        OpenCLIPVisualEncoder(str(tmp_path / "empty"))


def test_weights_of_another_model_are_refused_naming_the_file(tmp_path):
    folder = save_open_clip(tmp_path / "m")
    other = save_open_clip(
        tmp_path / "other",
        {**json.loads((folder / "open_clip_config.json").read_text())["model_cfg"], "embed_dim": 8},
    )
    with pytest.raises(
        ConfigError, match=r"open_clip_model.safetensors: not the weights of .*text_projection"
    ):
        OpenCLIPTextEncoder(str(folder), checkpoint=str(other / "open_clip_model.safetensors"))


def test_a_truncated_weight_file_is_named(tmp_path):
    folder = save_open_clip(tmp_path / "m")
    weights = folder / "open_clip_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ConfigError, match=r"open_clip_model.safetensors: not a readable checkpoint"):
        OpenCLIPVisualEncoder(str(folder))


def test_a_folder_without_weights_says_what_it_looked_for(tmp_path):
    folder = save_open_clip(tmp_path / "m")
    (folder / "open_clip_model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"no weights found \(looked for open_clip_model.safetensors"):
        OpenCLIPVisualEncoder(str(folder))


def test_a_hub_name_not_in_the_cache_is_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ConfigError, match=r"hf-hub:apple/DFN5B-CLIP-ViT-H-14-384: not in the Hugging Face cache"
    ):
        OpenCLIPVisualEncoder()


def test_an_unknown_name_is_explained():
    with pytest.raises(ConfigError, match=r"no-such-model: neither a folder"):
        OpenCLIPTextEncoder("no-such-model")


def test_without_open_clip_installed_the_error_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "open_clip", None)  # makes `import open_clip` fail
    with pytest.raises(ConfigError, match=r"pip install 'foleyzoo\[mmaudio\]'"):
        OpenCLIPVisualEncoder("ViT-B-32", checkpoint=str(tmp_path / "w.safetensors"))


def test_a_built_in_architecture_with_a_checkpoint_file_loads(tmp_path):
    import open_clip

    model = open_clip.create_model("ViT-S-32", load_weights=False)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    encoder = OpenCLIPTextEncoder("ViT-S-32", checkpoint=str(tmp_path / "w.safetensors"))
    assert encoder.embed_dim == state["token_embedding.weight"].shape[1]
    assert torch.equal(encoder.model.token_embedding.weight, state["token_embedding.weight"])


def test_a_model_cfg_rebuilds_the_encoders_as_a_bundle_does(golden):
    """From ``model_cfg`` alone (no folder, no weights) plus the saved state dict: the same features."""
    tensors, metadata, folder = golden
    prompts = json.loads(metadata["prompts"])
    for cls, run in (
        (OpenCLIPVisualEncoder, lambda enc: enc.encode(Video(tensors["frames"].float() / 255.0, 8.0)).values),
        (OpenCLIPTextEncoder, lambda enc: enc.encode(prompts).tokens),
    ):
        original = cls(str(folder))
        rebuilt = cls(model_cfg=original.model_cfg)
        assert not torch.equal(run(rebuilt), run(original))  # random until the weights are loaded
        rebuilt.load_state_dict(original.state_dict())
        assert torch.equal(run(rebuilt), run(original))


def test_a_model_cfg_with_a_foreign_text_tower_is_refused():
    with pytest.raises(ConfigError, match="only CLIP models with open_clip's own text transformer"):
        OpenCLIPTextEncoder(model_cfg={"vision_cfg": {}, "text_cfg": {"hf_model_name": "bert"}})
