"""Bundles and checkpoints written by earlier foleyzoo versions still load and give the same output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from foleyzoo.checkpoints import load_module
from foleyzoo.pipeline import FoleyPipeline, ModelCard, export_bundle
from foleyzoo.pipeline.pipeline import VideoFrames

OLD = Path(__file__).parent / "fixtures" / "foleyzoo-0.1"


def test_an_old_bundle_generates_what_it_generated_then() -> None:
    frames = torch.rand(24, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    pipeline = FoleyPipeline.from_bundle(OLD / "bundle", device="cpu")
    audio = pipeline.generate(VideoFrames(frames, 24.0), prompt="a bell", steps=2, seed=0)
    expected = load_file(str(OLD / "generated.safetensors"))["audio_every_40th"]
    torch.testing.assert_close(audio.samples[:, ::40], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "class_name"),
    [
        ("kling-tiny.ckpt", "FoleyFlowMatching"),
        ("melvae-tiny-16k.ckpt", "MelVAE"),
        ("sync-tiny.ckpt", "SyncPretraining"),
    ],
)
def test_old_checkpoints_load(name: str, class_name: str) -> None:
    stored = torch.load(OLD / name, weights_only=True)["state_dict"]
    module = load_module(OLD / name)
    assert type(module).__name__ == class_name
    loaded = module.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in stored.items())


def test_an_old_flow_checkpoint_exports_a_bundle(tmp_path: Path) -> None:
    bundle = export_bundle(OLD / "kling-tiny.ckpt", tmp_path / "again", ModelCard(name="again"))
    assert FoleyPipeline.from_bundle(bundle, device="cpu").card.name == "again"
