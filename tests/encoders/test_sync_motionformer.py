"""MotionFormerSyncEncoder: window segmenting and feature rate, locality, masks, weight loading and freezing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from foleyzoo.api import SyncEncoder, Video, api_version_compatible
from foleyzoo.encoders.sync.motionformer import MotionFormerSyncEncoder
from foleyzoo.errors import ConfigError

TINY: dict[str, Any] = {"image_size": 32, "patch_size": 16, "embed_dim": 32, "depth": 2, "heads": 2}


def tiny(seed: int = 0, **overrides: Any) -> MotionFormerSyncEncoder:
    torch.manual_seed(seed)
    return MotionFormerSyncEncoder(**{**TINY, **overrides})


def clip(frames: int, batch: int = 2, size: int = 32, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, 3, size, size, generator=generator)


@torch.no_grad()
def encode(model: MotionFormerSyncEncoder, frames: torch.Tensor, mask: torch.Tensor | None = None):
    return model.encode(Video(frames, fps=24.0, mask=mask))


def test_is_a_sync_encoder_of_a_compatible_api() -> None:
    model = tiny()
    assert isinstance(model, SyncEncoder)
    assert api_version_compatible(MotionFormerSyncEncoder.api_version)
    assert (model.fps, model.feature_rate, model.embed_dim) == (24.0, 24.0, 32)


@pytest.mark.parametrize(("frames", "windows"), [(1, 1), (16, 1), (17, 2), (24, 2), (40, 4), (41, 5)])
def test_one_feature_a_frame_at_the_frame_rate(frames: int, windows: int) -> None:
    model = tiny()
    features = encode(model, clip(frames))
    assert tuple(features.values.shape) == (2, frames, 32)
    assert features.fps == model.feature_rate == 24.0
    assert features.mask is not None and features.mask.dtype == torch.bool and bool(features.mask.all())
    assert torch.isfinite(features.values).all()
    assert model.num_windows(frames) == windows


def test_each_frame_takes_its_feature_from_the_window_it_is_central_in() -> None:
    owner, position = tiny().frame_owners(48)
    # windows start at 0, 8, 16, 24, 32; frames 4..11 of each window are its centre half
    assert owner[:12].tolist() == [0] * 12  # the first window also supplies the leading edge
    assert owner[12:20].tolist() == [1] * 8 and position[12:20].tolist() == list(range(4, 12))
    assert owner[36:].tolist() == [4] * 12  # the last window also supplies the trailing edge
    assert position[36:].tolist() == list(range(4, 16))


def test_frames_beyond_one_window_do_not_change_features() -> None:
    model = tiny()
    frames = clip(64, batch=1)
    reference = encode(model, frames).values

    later = frames.clone()
    later[:, 40:] = torch.rand_like(later[:, 40:])  # frames 0..35 come from windows ending at frame 39
    changed = encode(model, later).values
    torch.testing.assert_close(changed[:, :36], reference[:, :36], rtol=0, atol=1e-6)
    assert (changed[:, 44:] - reference[:, 44:]).abs().amax() > 1e-3

    earlier = frames.clone()
    earlier[:, :32] = torch.rand_like(earlier[:, :32])  # frames 36.. come from windows starting at 32
    changed = encode(model, earlier).values
    torch.testing.assert_close(changed[:, 36:], reference[:, 36:], rtol=0, atol=1e-6)
    assert (changed[:, :28] - reference[:, :28]).abs().amax() > 1e-3


def test_a_features_timing_follows_its_frames() -> None:
    model = tiny()
    frames = clip(48, batch=1)
    bumped = frames.clone()
    bumped[:, 30] = 1.0 - bumped[:, 30]  # frame 30 lies in windows 2 (16..31) and 3 (24..39)
    delta = (encode(model, bumped).values - encode(model, frames).values).abs().amax(-1)[0]
    owner, _ = model.frame_owners(48)
    touched = (owner == 2) | (owner == 3)
    assert delta[touched].amin() > 1e-4
    assert delta[~touched].amax() < 1e-6


def test_video_mask_propagates_and_batch_padding_does_not_change_features() -> None:
    model = tiny()
    frames = clip(40)
    frames[0, 20:] = 0.0  # row 0 is a 20-frame clip padded to 40
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[0, 20:] = False
    batched = encode(model, frames, mask)
    assert torch.equal(batched.mask, mask)
    alone = encode(model, frames[:1, :20])
    torch.testing.assert_close(batched.values[0, :20], alone.values[0], rtol=1e-4, atol=1e-5)
    unmasked = encode(model, frames).values  # without the mask the zero padding leaks into frames 12..19
    assert (unmasked[0, 12:20] - alone.values[0, 12:]).abs().amax() > 1e-3


def test_frames_are_centre_cropped_and_resized() -> None:
    model = tiny()
    wide = clip(16, batch=1, size=48)[..., 8:40, :]  # (32, 48): the shorter side already fits
    torch.testing.assert_close(
        encode(model, wide).values, encode(model, wide[..., 8:40]).values, rtol=1e-5, atol=1e-5
    )
    # 64 × 128, dark left and bright right edges: halved to 32 × 64, the centre crop sees only the grey middle
    frame = torch.full((1, 3, 64, 128), 0.5)
    frame[..., :24], frame[..., 104:] = 0.0, 1.0
    grey = (0.5 - model.mean) / model.std
    processed = model.preprocess(frame)
    assert tuple(processed.shape) == (1, 3, 32, 32)
    torch.testing.assert_close(processed, grey.expand_as(processed), rtol=0, atol=1e-5)
    shifted = model.preprocess(torch.roll(frame, 24, dims=-1))  # the dark edge moves into the crop
    assert (shifted - grey).abs().amax() > 0.5


def test_every_parameter_is_trained_without_a_checkpoint() -> None:
    model = tiny()
    assert model.training and not model.frozen
    model.encode(Video(clip(20), fps=24.0)).values.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def save_raw(model: MotionFormerSyncEncoder, path: Path, how: str) -> str | None:
    """Write the model's weights the way ``how`` says; returns the key prefix to load them with."""
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    if how == "safetensors":
        save_file(state, str(path))
    elif how == "torch":
        torch.save(state, path)
    elif how == "nested-prefixed":
        torch.save({"epoch": 3, "state_dict": {f"vfeat_extractor.{k}": v for k, v in state.items()}}, path)
        return "vfeat_extractor."
    elif how == "data-parallel":
        torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, path)
    else:
        model.save_checkpoint(path)
    return None


@pytest.mark.parametrize(
    ("how", "name"),
    [
        ("safetensors", "w.safetensors"),
        ("torch", "w.pt"),
        ("nested-prefixed", "w.ckpt"),
        ("data-parallel", "w.pth"),
        ("helper", "w.safetensors"),
        ("helper", "w.pt"),
    ],
)
def test_saved_weights_reload_to_identical_outputs(tmp_path: Path, how: str, name: str) -> None:
    source = tiny(seed=0)
    path = tmp_path / name
    prefix = save_raw(source, path, how)
    frames = clip(24)
    source.eval()
    loaded = MotionFormerSyncEncoder(**TINY, checkpoint=str(path), key_prefix=prefix)
    assert torch.equal(encode(loaded, frames).values, encode(source, frames).values)
    assert not torch.equal(encode(tiny(seed=5), frames).values, encode(source, frames).values)


def test_loaded_weights_are_frozen_in_eval_mode(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tiny().save_checkpoint(path)
    frozen = MotionFormerSyncEncoder(**TINY, checkpoint=str(path))
    assert frozen.frozen and not frozen.training
    assert [name for name, p in frozen.named_parameters() if p.requires_grad] == []
    torch.nn.Sequential(frozen).train()  # a parent switching to training leaves it in eval mode
    assert not frozen.training
    trainable = MotionFormerSyncEncoder(**TINY, checkpoint=str(path), freeze=False)
    assert trainable.training and all(p.requires_grad for p in trainable.parameters())


def test_missing_checkpoint_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.safetensors"
    with pytest.raises(ConfigError, match="not found") as info:
        tiny(checkpoint=str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["garbage.pt", "garbage.safetensors"])
def test_garbage_checkpoint_names_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not a checkpoint at all\n" * 8)
    with pytest.raises(ConfigError, match="not a readable checkpoint") as info:
        tiny(checkpoint=str(path))
    assert str(path) in str(info.value)


def test_checkpoint_without_tensors_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.pt"
    torch.save({"lr": 0.1, "epochs": 3}, path)
    with pytest.raises(ConfigError, match="no state dict of named tensors") as info:
        tiny(checkpoint=str(path))
    assert str(path) in str(info.value)


def test_another_width_lists_the_mis_shaped_keys(tmp_path: Path) -> None:
    path = tmp_path / "wide.safetensors"
    tiny(embed_dim=64).save_checkpoint(path)
    with pytest.raises(ConfigError) as info:
        tiny(checkpoint=str(path))
    message = str(info.value)
    assert str(path) in message and "shape (stored vs model)" in message
    assert "blocks.0.attn_time.proj.weight (64, 64) vs (32, 32)" in message


def test_another_depth_lists_the_unexpected_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep.pt"
    tiny(depth=3).save_checkpoint(path)
    with pytest.raises(ConfigError) as info:
        tiny(checkpoint=str(path))
    assert str(path) in str(info.value) and "unexpected blocks.2." in str(info.value)


def test_another_model_lists_the_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "linear.pt"
    torch.save(torch.nn.Linear(4, 4).state_dict(), path)
    with pytest.raises(ConfigError) as info:
        tiny(checkpoint=str(path))
    message = str(info.value)
    assert str(path) in message and "missing blocks.0." in message and "unexpected bias, weight" in message


def test_a_key_prefix_no_key_carries_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tiny().save_checkpoint(path)
    with pytest.raises(ConfigError, match="vfeat_extractor") as info:
        tiny(checkpoint=str(path), key_prefix="vfeat_extractor.")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"image_size": 40}, "image_size"),
        ({"window": 15}, "window"),
        ({"stride": 17}, "stride"),
        ({"heads": 3}, "embed_dim"),
    ],
)
def test_inconsistent_sizes_are_refused(overrides: dict[str, int], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        tiny(**overrides)


def test_the_old_name_still_builds_it_with_a_deprecation_warning(tmp_path: Path) -> None:
    """Up to 0.2.0 this network was ``SynchformerEncoder``; recipes, checkpoints and the entry point naming
    that still build it (same arguments, same weights), while ``Synchformer`` is the official network."""
    from foleyzoo.encoders.sync import synchformer
    from foleyzoo.plugins import get_registry

    old = synchformer.SynchformerEncoder  # the old class path
    assert issubclass(old, MotionFormerSyncEncoder)
    records = {r.name: r for r in get_registry().records() if r.group == "foleyzoo.sync_encoders"}
    assert records["SynchformerEncoder"].obj is old
    assert records["MotionFormerSyncEncoder"].obj is MotionFormerSyncEncoder
    assert records["Synchformer"].obj is synchformer.Synchformer
    path = tmp_path / "w.safetensors"
    tiny().save_checkpoint(path)
    with pytest.warns(DeprecationWarning, match="MotionFormerSyncEncoder"):
        loaded = old(**TINY, checkpoint=str(path))
    frames = clip(24)
    assert torch.equal(encode(loaded, frames).values, encode(tiny(seed=0).eval(), frames).values)
