"""Bundles and checkpoints written by earlier foleyzoo versions still load and give the same output."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from foleyzoo.io.checkpoints import load_module
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


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("foleyzoo.flow.module.FoleyFlowMatching", "foleyzoo.training.flow_matching.FoleyFlowMatching"),
        ("foleyzoo.stereo.PanVisualEncoder", "foleyzoo.encoders.visual.pan_grid.PanVisualEncoder"),
        ("foleyzoo.stereo.dual_mono.DualMono", "foleyzoo.renderers.dual_mono.DualMono"),
        ("foleyzoo.codecs.vocoders.GriffinLimVocoder", "foleyzoo.vocoders.griffin_lim.GriffinLimVocoder"),
        ("foleyzoo.components.CodecFromCheckpoint", "foleyzoo.codecs.from_checkpoint.CodecFromCheckpoint"),
        ("foleyzoo.data.synthfoley.scorer.score_clip", "foleyzoo.synthfoley.scorer.score_clip"),
    ],
)
def test_an_old_import_path_gives_the_same_object_and_says_where_it_moved(old: str, new: str) -> None:
    def resolve(path: str) -> object:
        module, name = path.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    assert resolve(old) is resolve(new)


def test_an_old_name_warns_with_its_new_place() -> None:
    from foleyzoo.compat import MOVED_PACKAGES, _MovedPackage

    fresh = _MovedPackage("foleyzoo.stereo", MOVED_PACKAGES["foleyzoo.stereo"])
    with pytest.warns(DeprecationWarning, match=r"foleyzoo\.stereo\.DualMono moved to foleyzoo\.renderers"):
        assert fresh.DualMono.__name__ == "DualMono"


def test_a_recipe_naming_an_old_class_path_still_parses(tmp_path: Path) -> None:
    from foleyzoo.training.cli import parse_config

    recipe = tmp_path / "old.yaml"
    recipe.write_text(
        (Path(__file__).parents[1] / "recipes" / "toy" / "flow-2d.yaml")
        .read_text()
        .replace("class_path: ToyFlowMatching", "class_path: foleyzoo.flow.toy.ToyFlowMatching")
    )
    from foleyzoo.training.toy import ToyFlowMatching

    class_path = parse_config(["fit", "--config", str(recipe)]).fit.model.class_path
    module, name = class_path.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is ToyFlowMatching
