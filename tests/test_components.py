"""Frozen parts taken from earlier stages' checkpoints: found, frozen, and refused clearly when wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.stage_checkpoints import TINY_CODEC, TINY_CONTRASTIVE, TINY_SYNC, write_checkpoint

from foleyzoo.api import AudioCodec, Video, Waveform
from foleyzoo.codecs.from_checkpoint import CodecFromCheckpoint
from foleyzoo.encoders.sync.from_checkpoint import SyncEncoderFromCheckpoint
from foleyzoo.encoders.visual.from_checkpoint import VisualEncoderFromCheckpoint
from foleyzoo.errors import ConfigError
from foleyzoo.io.from_checkpoint import component_from


def test_sync_encoder_of_a_sync_pretraining_checkpoint_gives_its_features(tmp_path: Path) -> None:
    path, module = write_checkpoint(TINY_SYNC, tmp_path / "sync.ckpt")
    loaded = SyncEncoderFromCheckpoint(str(path))
    video = Video(torch.rand(1, 24, 3, 32, 32), fps=24.0)
    with torch.no_grad():
        expected = module.sync_encoder.eval().encode(video).values
        got = loaded.encode(video).values
    assert torch.equal(got, expected)
    assert (loaded.fps, loaded.feature_rate, loaded.embed_dim) == (24.0, 24.0, 16)
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.module.training


def test_visual_encoder_of_a_contrastive_checkpoint(tmp_path: Path) -> None:
    path, module = write_checkpoint(TINY_CONTRASTIVE, tmp_path / "avc.ckpt")
    loaded = VisualEncoderFromCheckpoint(str(path))
    video = Video(torch.rand(1, 8, 3, 32, 32), fps=8.0)
    with torch.no_grad():
        assert torch.equal(loaded.encode(video).values, module.visual_encoder.eval().encode(video).values)
    assert (loaded.fps, loaded.embed_dim) == (8.0, 16)


def test_codec_checkpoint_round_trips_like_the_codec(tmp_path: Path) -> None:
    path, module = write_checkpoint(TINY_CODEC, tmp_path / "codec.ckpt")
    loaded = CodecFromCheckpoint(str(path))
    audio = Waveform(torch.randn(1, 1, 8000) * 0.1, 16000)
    with torch.no_grad():
        expected = module.eval().decode(module.encode(audio)).values
        got = loaded.decode(loaded.encode(audio)).values
    assert torch.equal(got, expected)
    assert (loaded.sample_rate, loaded.latent_dim, loaded.latent_rate) == (16000, 8, 62.5)


def test_a_checkpoint_without_the_wanted_part_is_refused_by_name(tmp_path: Path) -> None:
    path, _ = write_checkpoint(TINY_SYNC, tmp_path / "sync.ckpt")
    with pytest.raises(ConfigError, match=r"sync\.ckpt: holds a SyncPretraining with 0 AudioCodec parts"):
        component_from(path, AudioCodec)
    with pytest.raises(ConfigError, match=r"SyncPretraining\.optimizer_factory is not a AudioCodec"):
        component_from(path, AudioCodec, attribute="optimizer_factory")
    with pytest.raises(ConfigError, match=r"missing\.ckpt: checkpoint file not found"):
        SyncEncoderFromCheckpoint(str(tmp_path / "missing.ckpt"))


def test_an_architecture_with_optimizer_callables_rebuilds_from_its_stored_text(tmp_path: Path) -> None:
    """Stored as JSON text, the part's config passes through the CLI's parser unchanged and rebuilds the part."""
    optimizer = {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.01}}
    config = {
        "class_path": TINY_CODEC["class_path"],
        "init_args": {**TINY_CODEC["init_args"], "optimizer": optimizer},
    }
    path, module = write_checkpoint(config, tmp_path / "codec.ckpt")
    architecture = CodecFromCheckpoint(str(path)).portable_init_args()["architecture"]
    assert json.loads(architecture)["init_args"]["optimizer"] == optimizer
    rebuilt = CodecFromCheckpoint("gone.ckpt", architecture=architecture)
    assert rebuilt.latent_dim == module.latent_dim and type(rebuilt.module) is type(module)
