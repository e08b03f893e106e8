"""A flow model's checkpoint loads anywhere: its frozen parts' architectures travel in it, not their files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from tests.stage_checkpoints import TINY_SYNC, fit_small_flow, write_checkpoint

from foleyzoo.codecs.from_checkpoint import CodecFromCheckpoint
from foleyzoo.data.clips import ClipFormat, collate_clips
from foleyzoo.io.checkpoints import load_module
from foleyzoo.synthfoley.datamodule import SynthFoleyClips

FORMAT = ClipFormat(
    visual_fps=8.0, visual_size=(32, 32), sync_fps=24.0, sync_size=(32, 32), sample_rate=16000
)


@pytest.fixture
def trained_in_a_stage_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kling-tiny run for one step in a folder holding the earlier stages' checkpoints where the recipe names them."""
    stages = tmp_path / "stages"
    fit_small_flow(stages)
    monkeypatch.chdir(stages)
    return stages


def test_a_flow_checkpoint_loads_after_the_stage_files_are_gone(
    trained_in_a_stage_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = trained_in_a_stage_folder
    original = CodecFromCheckpoint("runs/melvae-tiny-16k/checkpoints/last.ckpt")
    moved = tmp_path / "elsewhere" / "v2a.ckpt"
    moved.parent.mkdir()
    shutil.copy(stages / "runs/kling-tiny/checkpoints/last.ckpt", moved)
    shutil.rmtree(stages / "runs/melvae-tiny-16k")
    shutil.rmtree(stages / "runs/sync-tiny")
    shutil.rmtree(stages / "runs/av-contrastive-tiny")
    monkeypatch.chdir(moved.parent)

    model = load_module(moved)

    item = SynthFoleyClips(1, 5, FORMAT, 1.0)[0]
    clip = collate_clips([item], FORMAT)
    with torch.no_grad():
        expected = original.encode(clip["audio"]).values
        assert torch.equal(
            model.codec.encode(clip["audio"]).values, expected
        )  # trained weights, not a fresh init
    assert model.codec.architecture["class_path"] == "foleyzoo.codecs.melvae.MelVAE"
    assert model.sync_encoder.architecture["class_path"].endswith(
        "TinySync3DCNN"
    )  # the part, not SyncPretraining
    assert model.sync_encoder.architecture_attribute is None


def test_a_part_built_from_its_architecture_names_where_it_came_from(tmp_path: Path) -> None:
    from foleyzoo.encoders.sync.from_checkpoint import SyncEncoderFromCheckpoint
    from foleyzoo.errors import ConfigError

    path, _ = write_checkpoint(TINY_SYNC, tmp_path / "sync.ckpt")
    part = SyncEncoderFromCheckpoint(str(path))
    rebuilt = SyncEncoderFromCheckpoint(
        "gone.ckpt", **{k: v for k, v in part.portable_init_args().items() if k != "checkpoint"}
    )
    assert type(rebuilt.module) is type(part.module) and rebuilt.embed_dim == part.embed_dim
    wrong = {"class_path": "foleyzoo.encoders.visual.tiny_cnn.TinyVisualCNN", "init_args": {"fps": 8.0}}
    with pytest.raises(ConfigError, match=r"the architecture stored for gone\.ckpt: holds a TinyVisualCNN"):
        SyncEncoderFromCheckpoint("gone.ckpt", architecture=wrong)
