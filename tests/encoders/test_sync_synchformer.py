"""Synchformer (the official layout): segmenting as MMAudio, the SyncEncoder interface, loading and refusing files.

Equality with MMAudio's own code is tests/zoo/test_mmaudio_sync_parity.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from foleyzoo.api import SyncEncoder, Video, api_version_compatible
from foleyzoo.encoders.sync.synchformer import (
    CHECKPOINT_PREFIX,
    Synchformer,
    cut_segments,
    num_segments,
    resampled_index,
)
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.mmaudio.manifest import released_sync_file
from foleyzoo.zoo.mmaudio.sync_parity import FULL_CONFIG

TINY: dict[str, Any] = {"image_size": 32, "patch_size": 16, "embed_dim": 32, "depth": 1, "heads": 2}


def tiny(seed: int = 0, **overrides: Any) -> Synchformer:
    torch.manual_seed(seed)
    return Synchformer(**{**TINY, **overrides}).eval()


def clip(frames: int, batch: int = 2, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


def prefixed(model: Synchformer) -> dict[str, torch.Tensor]:
    return {CHECKPOINT_PREFIX + key: value.clone() for key, value in model.state_dict().items()}


def test_is_a_sync_encoder_at_mmaudios_rates() -> None:
    model = tiny()
    assert isinstance(model, SyncEncoder) and api_version_compatible(Synchformer.api_version)
    assert (model.fps, model.feature_rate, model.embed_dim) == (25.0, 24.0, 32)


@pytest.mark.parametrize(
    ("frames", "segments"), [(15, 0), (16, 1), (23, 1), (24, 2), (25, 2), (200, 24), (250, 30)]
)
def test_segments_as_mmaudio_cuts_them(frames: int, segments: int) -> None:
    """(T − 16) // 8 + 1 segments of 16 frames every 8 (MMAudio's encode_video_with_sync)."""
    assert num_segments(frames) == segments == max(0, (frames - 16) // 8 + 1)
    index = torch.arange(frames).view(1, frames, 1)
    cut = cut_segments(index, segments)[0, :, :, 0]
    assert cut.shape == (segments, 16)
    assert all(cut[k].tolist() == list(range(8 * k, 8 * k + 16)) for k in range(segments))


@torch.no_grad()
def test_mmaudio_features_concatenate_eight_features_a_segment() -> None:
    model = tiny()
    frames = 2 * clip(40) - 1
    features = model.mmaudio_features(frames)
    assert features.shape == (2, 8 * num_segments(40), 32) == (2, 32, 32)
    second = model.encode_segments(frames[:, 8:24])  # segment 1: frames 8…23
    assert torch.allclose(features[:, 8:16], second, atol=1e-6)
    assert torch.allclose(model.mmaudio_features(frames, segments_per_batch=3), features, atol=1e-6)
    with pytest.raises(ValueError, match="at least 16 frames"):
        model.mmaudio_features(frames[:, :15])


@torch.no_grad()
@pytest.mark.parametrize("frames", [25, 40, 200])
def test_encode_is_mmaudios_concatenation_at_the_interface_length(frames: int) -> None:
    """round(T · 24 / 25) features; the first min(8·S, that) are MMAudio's; exactly MMAudio's at 8 s."""
    model = tiny()
    video = clip(frames, batch=1)
    features = model.encode(Video(video, fps=25.0))
    count = round(frames * 24 / 25)
    assert features.values.shape == (1, count, 32) and features.fps == 24.0 and bool(features.mask.all())
    reference = model.mmaudio_features(model.preprocess(video[0])[None])
    shared = min(count, reference.shape[1])
    assert torch.allclose(features.values[:, :shared], reference[:, :shared], atol=1e-6)
    if frames == 200:
        assert reference.shape[1] == count == 192


@torch.no_grad()
@pytest.mark.parametrize("frames", [150, 200, 133])
def test_segment_count_is_exactly_mmaudios_features_at_any_length(frames: int) -> None:
    """feature_count="segments": 8 · ((T − 16) // 8 + 1) features, all MMAudio's (6 s: 136, not 144)."""
    model = tiny(feature_count="segments")
    video = clip(frames, batch=1)
    features = model.encode(Video(video, fps=25.0))
    reference = model.mmaudio_features(model.preprocess(video[0])[None])
    assert features.values.shape == reference.shape == (1, 8 * num_segments(frames), 32)
    assert torch.allclose(features.values, reference, atol=1e-6)
    assert model.config["feature_count"] == "segments"
    with pytest.raises(ValueError, match="feature_count must be 'rate' or 'segments'"):
        tiny(feature_count="frames")


@torch.no_grad()
def test_encode_resamples_to_25_fps_and_fills_masked_frames() -> None:
    model = tiny()
    video = clip(64, batch=1)
    assert resampled_index(64, 50.0, 25.0).tolist() == list(range(0, 64, 2))
    at_50 = model.encode(Video(video, fps=50.0))
    at_25 = model.encode(Video(video[:, ::2], fps=25.0))
    assert torch.equal(at_50.values, at_25.values)
    mask = torch.ones(1, 32, dtype=torch.bool)
    mask[:, 20:] = False
    masked = model.encode(Video(video[:, ::2], fps=25.0, mask=mask))
    padded = model.encode(
        Video(torch.cat([video[:, :40:2], video[:, 38:39].expand(-1, 12, -1, -1, -1)], 1), 25.0)
    )
    assert torch.equal(masked.values, padded.values)
    assert (
        masked.mask.shape == (1, round(32 * 24 / 25))
        and masked.mask[0, :19].all()
        and not masked.mask[0, 20:].any()
    )


def test_preprocessing_is_mmaudios_resize_and_centre_crop() -> None:
    """Shorter side to 224 (bicubic, antialiased), centre crop 224, mean = std = 0.5: torchvision's v2."""
    v2 = pytest.importorskip("torchvision.transforms.v2")
    model = Synchformer(**TINY)
    frames = clip(3, batch=1, size=56)[0][..., :45, :]  # 45 × 56 pixels
    transform = v2.Compose(
        [
            v2.Resize(32, interpolation=v2.InterpolationMode.BICUBIC),
            v2.CenterCrop(32),
            v2.Normalize([0.5] * 3, [0.5] * 3),
        ]
    )
    theirs = transform(frames)  # float frames: no 8-bit rounding
    ours = model.preprocess(frames)
    assert ours.shape == (3, 3, 32, 32)
    assert torch.allclose(ours, theirs.clamp(-1, 1), atol=1e-5)


def test_the_manifest_is_the_full_size_network_and_loads_strictly() -> None:
    """A state dict made from the manifest (official keys, ``vfeat_extractor.`` prefix) loads strictly."""
    released = released_sync_file()
    assert (
        released.file == "synchformer_state_dict.pth" and released.md5 == "5b2f5594b0730f70e41e549b7c94390c"
    )
    assert all(key.startswith(CHECKPOINT_PREFIX) for key in released.keys)
    with torch.device("meta"):
        model = Synchformer(**FULL_CONFIG)
        state = {key: torch.empty(shape) for key, shape in released.keys.items()}
    shapes = {CHECKPOINT_PREFIX + key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert shapes == released.keys
    assert len(shapes) == 238 and sum(torch.Size(s).numel() for s in shapes.values()) == 122_440_704
    model.load_weights({**state, "afeat_extractor.stem.weight": torch.empty(4, device="meta")}, "manifest")
    assert model.set_aside_keys == ("afeat_extractor.stem.weight",)


@pytest.mark.parametrize("how", ["prefixed", "nested", "unprefixed"])
def test_a_file_loads_strictly_and_freezes(tmp_path: Path, how: str) -> None:
    source = tiny(seed=3)
    state = prefixed(source)
    if how == "nested":
        state = {"model": {**state, "transformer.offset_head.weight": torch.zeros(2)}}
    elif how == "unprefixed":
        state = dict(source.state_dict())
    torch.save(state, tmp_path / "synchformer_state_dict.pth")
    loaded = Synchformer.from_file(tmp_path / "synchformer_state_dict.pth", **TINY)
    assert loaded.frozen and not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.set_aside_keys == (("transformer.offset_head.weight",) if how == "nested" else ())
    frames = 2 * clip(16) - 1
    with torch.no_grad():
        assert torch.equal(loaded.mmaudio_features(frames), source.mmaudio_features(frames))


def test_weights_of_another_shape_are_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    state = prefixed(tiny())
    state["vfeat_extractor.temp_embed"] = torch.zeros(1, 4, 32)
    del state["vfeat_extractor.norm.bias"]
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError) as caught:
        Synchformer(path, **TINY)
    message = str(caught.value)
    assert (
        str(path) in message and "temp_embed (1, 4, 32) vs (1, 8, 32)" in message and "norm.bias" in message
    )
    torch.save({**prefixed(tiny()), "vfeat_extractor.head.weight": torch.zeros(3)}, path)
    with pytest.raises(ConfigError, match=r"unexpected head\.weight"):
        Synchformer(path, **TINY)


def test_a_truncated_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "synchformer_state_dict.pth"
    torch.save(prefixed(tiny()), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ConfigError, match=r"synchformer_state_dict\.pth: not a readable checkpoint"):
        Synchformer(path, **TINY)
    with pytest.raises(ConfigError, match="not found"):
        Synchformer(tmp_path / "missing.pth", **TINY)
