"""Every installed plugin, foleyzoo's own and third parties', must load and behave like its interface.

Parametrised over the live registry (as timm tests every registered model): a new plugin is tested the
day it is installed.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import torch
from tests.encoders.builders import (
    CLIP_TEXT,
    VISION,
    VIT,
    clip_processor,
    save,
    save_clip,
    save_open_clip,
    tiny_t5,
)
from tests.stage_checkpoints import TINY_CODEC, TINY_CONTRASTIVE, TINY_SYNC, write_checkpoint
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModel

from foleyzoo.api import (
    INTERFACE_GROUPS,
    AttentionBackend,
    Sampler,
    SyncEncoder,
    TextEncoder,
    Video,
    VisualEncoder,
)
from foleyzoo.errors import FoleyzooError
from foleyzoo.mmdit.attention import NaiveAttention
from foleyzoo.plugins import get_registry, recipe_dir_of

RECORDS = get_registry().records()

# foleyzoo's plugins that cannot be built with no arguments in a test: the pretrained encoders need
# weights (tiny random checkpoints are saved here) and the MotionFormer-style encoders' defaults are
# paper-size (115 M and 122 M parameters). Entry-point name → (registered class, scratch folder) → a small instance.
# Every other plugin, a third party's included, is built with no arguments.
SMALL_BUILDS: dict[str, Callable[[Any, Path], Any]] = {
    "HFVisionEncoder": lambda cls, tmp: cls(
        str(save(tmp / "clip-vision", CLIPVisionModel(CLIPVisionConfig(**VISION)), clip_processor()))
    ),
    "TimmVisualEncoder": lambda cls, tmp: cls("vit_tiny_patch16_224", model_kwargs=VIT),
    "MotionFormerSyncEncoder": lambda cls, tmp: cls(
        image_size=32, patch_size=16, embed_dim=32, depth=1, heads=2
    ),
    "SynchformerEncoder": lambda cls, tmp: cls(image_size=32, patch_size=16, embed_dim=32, depth=1, heads=2),
    "Synchformer": lambda cls, tmp: cls(image_size=32, patch_size=16, embed_dim=32, depth=1, heads=2),
    "T5TextEncoder": lambda cls, tmp: cls(str(save(tmp / "t5", *tiny_t5()))),
    "SyncEncoderFromCheckpoint": lambda cls, tmp: cls(str(write_checkpoint(TINY_SYNC, tmp / "sync.ckpt")[0])),
    "VisualEncoderFromCheckpoint": lambda cls, tmp: cls(
        str(write_checkpoint(TINY_CONTRASTIVE, tmp / "avc.ckpt")[0])
    ),
    "CodecFromCheckpoint": lambda cls, tmp: cls(str(write_checkpoint(TINY_CODEC, tmp / "codec.ckpt")[0])),
    "CLIPTextEncoder": lambda cls, tmp: cls(
        str(save_clip(tmp / "clip-text", CLIPTextModel(CLIPTextConfig(**CLIP_TEXT))))
    ),
    "OpenCLIPVisualEncoder": lambda cls, tmp: cls(str(save_open_clip(tmp / "open-clip"))),
    # MMAudio's way marks all 77 positions real; the contract's mask of real tokens is the other option
    "OpenCLIPTextEncoder": lambda cls, tmp: cls(str(save_open_clip(tmp / "open-clip")), mask_padding=True),
}


def build(record, tmp_path: Path) -> Any:
    """The plugin's instance to test: small where SMALL_BUILDS says how, else built with no arguments."""
    factory = SMALL_BUILDS.get(record.name) if record.package == "foleyzoo" else None
    return record.obj() if factory is None else factory(record.obj, tmp_path)


def record_id(record) -> str:
    return f"{record.group}:{record.name}"


def test_builtins_are_registered_through_entry_points():
    ours = {r.name for r in RECORDS if r.package == "foleyzoo"}
    assert {"EulerSampler", "HeunSampler", "MidpointSampler", "ByteTextEncoder", "ToyFlowMatching"} <= ours


def test_small_builds_name_registered_plugins():
    ours = {r.name for r in RECORDS if r.package == "foleyzoo" and r.ok}
    assert set(SMALL_BUILDS) <= ours, set(SMALL_BUILDS) - ours


def test_the_example_plugin_is_installed_and_listed():
    """The README's test command installs plugins/foleyzoo-example; its classes must show up by short name."""
    version = metadata.version("foleyzoo-example")
    theirs = {r.name: r for r in RECORDS if r.package == "foleyzoo-example"}
    assert {"RK4Sampler", "HashedTrigramTextEncoder"} <= set(theirs)
    assert all(r.ok and r.version == version for r in theirs.values())


@pytest.mark.parametrize("record", RECORDS, ids=record_id)
def test_every_installed_plugin_is_usable(record):
    assert record.ok, record.problem()
    if record.group in INTERFACE_GROUPS:
        assert issubclass(record.obj, INTERFACE_GROUPS[record.group])
        assert not inspect.isabstract(record.obj)


SAMPLERS = [r for r in RECORDS if r.group == "foleyzoo.samplers"]
TEXT_ENCODERS = [r for r in RECORDS if r.group == "foleyzoo.text_encoders"]
RECIPES = [r for r in RECORDS if r.group == "foleyzoo.recipes"]
ATTENTION = [r for r in RECORDS if r.group == "foleyzoo.attention"]
FRAME_ENCODERS = [r for r in RECORDS if r.group in ("foleyzoo.visual_encoders", "foleyzoo.sync_encoders")]


@pytest.mark.parametrize("record", FRAME_ENCODERS, ids=record_id)
def test_frame_encoder_contract(record, tmp_path):
    """Features on the encoder's time base with the right size, and the frame mask passed through."""
    torch.manual_seed(0)
    encoder: VisualEncoder | SyncEncoder = build(record, tmp_path).eval()
    rate = encoder.feature_rate if isinstance(encoder, SyncEncoder) else encoder.fps
    frames = torch.rand(2, round(encoder.fps), 3, 64, 64)
    mask = torch.ones(2, frames.shape[1], dtype=torch.bool)
    with torch.no_grad():
        features = encoder.encode(Video(frames, fps=encoder.fps, mask=mask))
    assert features.values.shape == (2, round(rate), encoder.embed_dim)
    assert features.fps == rate and features.mask is not None
    # features at the frame rate keep the frame mask; at another rate, every feature of real frames is real
    assert torch.equal(features.mask, mask) if rate == encoder.fps else bool(features.mask.all())
    assert torch.isfinite(features.values).all()
    if features.tokens is not None:
        assert (
            features.tokens.shape[:2] == features.values.shape[:2]
            and features.tokens.shape[-1] == encoder.embed_dim
        )


@pytest.mark.parametrize("record", SAMPLERS, ids=record_id)
def test_sampler_integrates_a_known_flow(record):
    """dx/dt = t·x from x(0) = x0 has x(1) = x0·e^{1/2}; every sampler must get close with 64 steps."""
    sampler: Sampler = record.obj(steps=64)
    noise = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    seen_times = []

    def velocity(x, t):
        assert t.shape == (x.shape[0],) and t.dtype == x.dtype
        seen_times.append(t)
        return t[:, None] * x

    result = sampler.sample(velocity, noise)
    assert result.shape == noise.shape
    assert torch.allclose(result, noise * math.exp(0.5), rtol=2e-2)
    times = torch.cat(seen_times)
    assert times.min() >= 0.0 and times.max() <= 1.0


@pytest.mark.parametrize("record", TEXT_ENCODERS, ids=record_id)
def test_text_encoder_contract(record, tmp_path):
    torch.manual_seed(0)
    encoder: TextEncoder = build(record, tmp_path)
    features = encoder.encode(["a bell", "", "a wooden knock and a glass clink"])
    batch, length, dim = features.tokens.shape
    assert batch == 3 and dim == encoder.embed_dim
    assert features.pooled.shape == (3, encoder.embed_dim)
    assert features.mask.dtype == torch.bool and features.mask.shape == (3, length)
    assert features.mask.sum(1)[2] > features.mask.sum(1)[0]  # the longer prompt has more tokens
    assert torch.isfinite(features.tokens).all() and torch.isfinite(features.pooled).all()
    again = encoder.encode(["a bell"])
    assert torch.allclose(again.pooled[0], features.pooled[0], atol=1e-6)  # independent of the batch


@pytest.mark.parametrize("record", RECIPES, ids=record_id)
def test_recipe_sources_hold_recipes(record):
    assert list(recipe_dir_of(record.obj).rglob("*.yaml")), (
        f"{record.package} registers an empty recipe folder"
    )


@pytest.mark.parametrize("record", ATTENTION, ids=record_id)
def test_attention_backend_matches_the_reference_or_says_why_not(record):
    """Where a backend runs on this device it equals the naive reference (masks included); else it says why."""
    backend: AttentionBackend = record.obj()
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, n, 8, generator=generator) for n in (5, 7, 7))
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    problem = backend.availability(torch.device("cpu"))
    if problem is None:
        expected = NaiveAttention().attend(q, k, v, key_padding_mask=mask)
        torch.testing.assert_close(
            backend.attend(q, k, v, key_padding_mask=mask), expected, rtol=1e-5, atol=1e-5
        )
    else:
        assert isinstance(problem, str) and len(problem) > 20
        with pytest.raises(FoleyzooError):
            backend.attend(q, k, v, key_padding_mask=mask)


CHECKED_GROUPS = {
    "foleyzoo.samplers",
    "foleyzoo.text_encoders",
    "foleyzoo.visual_encoders",
    "foleyzoo.sync_encoders",
    "foleyzoo.attention",
    "foleyzoo.codecs",
    "foleyzoo.vocoders",
    "foleyzoo.renderers",
    "foleyzoo.denoisers",
}
TINY_MMAUDIO = dict(
    latent_dim=4, clip_dim=8, sync_dim=8, text_dim=8, hidden=32, heads=2, joint_blocks=1, single_blocks=1
)
CHECK_BUILDS: dict[str, Callable[[Any, Path], Any]] = {
    **SMALL_BUILDS,
    "MMDiT": lambda cls, tmp: cls(
        latent_dim=4,
        visual_dim=6,
        text_dim=6,
        sync_dim=6,
        hidden=16,
        heads=2,
        joint_blocks=1,
        single_blocks=1,
    ),
    "HiFiGANVocoder": lambda cls, tmp: cls(upsample_initial_channel=32),  # random weights, V1's layout
    "EDM2MelVAE": lambda cls, tmp: cls(latent_dim=4, hidden=8),  # random weights, MMAudio 16k's front-end
    "MMAudioCodec": lambda cls, tmp: cls(
        "16k", architecture={"latent_dim": 4, "hidden": 8}
    ),  # no file: random weights
    "MMAudioVocoder": lambda cls, tmp: cls("16k", overrides={"upsample_initial_channel": 64}),
    "MMAudioDenoiser": lambda cls, tmp: cls(**TINY_MMAUDIO),
    "MMAudioNetwork": lambda cls, tmp: cls("small_16k", architecture=TINY_MMAUDIO),  # no file: fresh weights
    "BigVGANVocoder": lambda cls, tmp: cls(upsample_initial_channel=64),  # random weights, v2 44k's layout
}


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if r.group in CHECKED_GROUPS and r.package == "foleyzoo"], ids=record_id
)
def test_foleyzoo_plugins_pass_the_check_third_parties_run(record, tmp_path):
    """``foleyzoo.testing.check_plugin``, which plugin packages call in their own tests, passes every built-in."""
    from foleyzoo.testing import check_plugin

    factory = CHECK_BUILDS.get(record.name, lambda cls, tmp: cls())
    check_plugin(record.obj, group=record.group, instance=factory(record.obj, tmp_path))
