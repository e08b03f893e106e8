"""Fine-tuning a converted MMAudio network with FoleyFlowMatching: a file in MMAudio's layout, loaded by the
MMAudioNetwork plugin (reduced in width and depth: 2 joint blocks and 1 single block), learns SynthFoley
clips on a CPU; the recipe of recipes/mmaudio/ names every part by its released file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from safetensors import safe_open
from torch.utils.data import DataLoader

from foleyzoo.cli.summarize import read_model_config, summarize_model
from foleyzoo.data.clips import ClipFormat, collate_clips
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN
from foleyzoo.encoders.text.byte import ByteTextEncoder
from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN
from foleyzoo.errors import ConfigError
from foleyzoo.synthfoley.datamodule import SynthFoleyClips
from foleyzoo.training.flow_matching import FoleyFlowMatching
from foleyzoo.zoo.mmaudio.codec_loader import MMAudioCodec
from foleyzoo.zoo.mmaudio.loader import MMAudioNetwork
from foleyzoo.zoo.mmaudio.parity import CONFIGS
from foleyzoo.zoo.testing import random_state_dict

REPO = Path(__file__).parents[2]
GOLDEN = REPO / "tests" / "zoo" / "data" / "mmaudio_tiny_v1_16k.safetensors"
RECIPE = REPO / "recipes" / "mmaudio" / "finetune-small-16k.yaml"
CONFIG = CONFIGS["tiny_v1_16k"]
FORMAT = ClipFormat(
    visual_fps=8.0, visual_size=(32, 32), sync_fps=24.0, sync_size=(32, 32), sample_rate=16000
)


@pytest.fixture(scope="module")
def network_file(tmp_path_factory) -> Path:
    """Random weights in MMAudio's own names and layout (the keys of its tiny network), as a released file."""
    with safe_open(str(GOLDEN), "pt") as stored:
        shapes = json.loads(stored.metadata()["mmaudio_shapes"])
    path = tmp_path_factory.mktemp("mmaudio") / "mmaudio_small_16k.pth"
    torch.save(random_state_dict({key: tuple(shape) for key, shape in shapes.items()}, 7), path)
    return path


def converted_model(network_file: Path) -> FoleyFlowMatching:
    torch.manual_seed(0)
    denoiser = MMAudioNetwork(
        "small_16k", checkpoint=str(network_file), verify=False, architecture=CONFIG.architecture()
    )
    codec = MMAudioCodec(
        "16k", statistics=str(network_file), architecture={"latent_dim": CONFIG.latent_dim, "hidden": 8}
    )
    return FoleyFlowMatching(
        denoiser=denoiser,
        codec=codec,
        text_encoder=ByteTextEncoder(embed_dim=CONFIG.text_dim, max_length=CONFIG.text_tokens),
        visual_encoder=TinyVisualCNN(fps=8.0, embed_dim=CONFIG.clip_dim, width=8),
        sync_encoder=TinySync3DCNN(fps=24.0, embed_dim=CONFIG.sync_dim, width=8),
        condition_dropout=0.0,
        ema_decay=None,
        val_audio_clips=0,
    )


def test_the_network_file_loads_through_the_plugin_and_the_codec_takes_its_statistics(network_file):
    stored = torch.load(network_file, weights_only=True)
    model = converted_model(network_file)
    assert torch.equal(model.denoiser.latent_std, stored["latent_std"].reshape(-1))
    assert torch.equal(model.codec.latent_mean, stored["latent_mean"].reshape(-1))
    assert torch.equal(model.denoiser.empty_text, stored["empty_string_feat"])  # loaded, not initialised
    with pytest.raises(ConfigError, match=r"does not fit MMAudio small_16k"):
        MMAudioNetwork(
            "small_16k",
            checkpoint=str(network_file),
            verify=False,
            architecture={**CONFIG.architecture(), "hidden": 32},
        )


def test_a_few_steps_on_synthfoley_lower_the_flow_loss_by_a_third(network_file):
    """20 AdamW steps on four SynthFoley clips: the loss falls by more than a third (measured 2.61 → 0.78)."""
    model = converted_model(network_file)
    model.optimizer_factory = lambda params: torch.optim.AdamW(params, lr=1e-3)
    dataset = SynthFoleyClips(4, 0, FORMAT, 1.0)
    fixed = collate_clips([dataset[i] for i in range(4)], FORMAT)

    def loss_now() -> float:
        latents, conditions = model.prepare(fixed)
        noise = torch.randn(latents.values.shape, generator=torch.Generator().manual_seed(0))
        t = torch.tensor([0.2, 0.4, 0.6, 0.8])[:, None, None]
        with torch.no_grad():
            predicted = model.denoiser(t * latents.values + (1 - t) * noise, t[:, 0, 0], conditions)
        return (predicted - (latents.values - noise)).pow(2).mean().item()

    before = loss_now()
    trainer = Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, DataLoader([fixed] * 20, batch_size=None))
    after = loss_now()
    assert after < (2 / 3) * before, (before, after)


def test_the_recipe_names_every_part_by_its_released_file():
    rows = {row.name: row for row in summarize_model(read_model_config(RECIPE), source=str(RECIPE))}
    assert rows["denoiser"].class_path == "MMAudioNetwork" and 150e6 < rows["denoiser"].parameters < 165e6
    assert "architecture only" in rows["denoiser"].note
    assert "mmaudio_small_16k.pth: MMAudio network file not found" in rows["codec"].note
    assert "DFN5B-CLIP-ViT-H-14-384" in rows["visual_encoder"].note
    assert rows["sync_encoder"].parameters > 100e6 and rows["vocoder"].parameters > 100e6


def test_extract_takes_the_recipes_data_and_frozen_parts(tmp_path):
    """`foleyzoo extract --recipe R`: the cache is made by exactly the parts the fine-tuning recipe names."""
    import yaml

    from foleyzoo.cli.extract import _with_recipe, build_parser, recipe_extract_config

    recipe = yaml.safe_load(RECIPE.read_text())
    config = recipe_extract_config("mmaudio/finetune-small-16k")  # a recipe name works as well as a path
    for part in ("codec", "text_encoder", "visual_encoder", "sync_encoder"):
        assert config[part] == recipe["model"]["init_args"][part], part
    assert config["data"] == recipe["data"] and "vocoder" not in config
    argv, temporary = _with_recipe(["--recipe", str(RECIPE), "--output", str(tmp_path / "cache")])
    from foleyzoo.plugins.registry import load_plugins
    from foleyzoo.training.cli import mentions

    load_plugins().resolve_mentioned(mentions(argv))  # as `foleyzoo extract` does before parsing
    parsed = build_parser().parse_args(argv)  # every class resolves; nothing is built
    assert parsed.codec.class_path.endswith("MMAudioCodec") and parsed.data.init_args.frame_pick == "next"
    temporary.unlink()
    with pytest.raises(ConfigError, match="a recipe with a model"):
        recipe_extract_config(REPO / "recipes" / "strategies" / "fsdp.yaml")


def test_a_fine_tuned_run_exports_a_bundle_that_needs_none_of_the_released_files(network_file, tmp_path):
    import shutil

    from tests.stage_checkpoints import write_checkpoint

    from foleyzoo.pipeline import Bundle, FoleyPipeline, ModelCard, export_bundle

    moved = tmp_path / "mmaudio_small_16k.pth"
    shutil.copy(network_file, moved)
    config = {
        "class_path": "foleyzoo.training.flow_matching.FoleyFlowMatching",
        "init_args": {
            "denoiser": {
                "class_path": "MMAudioNetwork",
                "init_args": {
                    "variant": "small_16k",
                    "checkpoint": str(moved),
                    "verify": False,
                    "architecture": CONFIG.architecture(),
                },
            },
            "codec": {
                "class_path": "MMAudioCodec",
                "init_args": {
                    "variant": "16k",
                    "statistics": str(moved),
                    "architecture": {"latent_dim": CONFIG.latent_dim, "hidden": 8},
                },
            },
            "vocoder": {
                "class_path": "MMAudioVocoder",
                "init_args": {"variant": "16k", "overrides": {"upsample_initial_channel": 64}},
            },
            "text_encoder": {
                "class_path": "ByteTextEncoder",
                "init_args": {"embed_dim": CONFIG.text_dim, "max_length": CONFIG.text_tokens},
            },
            "visual_encoder": {
                "class_path": "TinyVisualCNN",
                "init_args": {"embed_dim": CONFIG.clip_dim, "width": 8},
            },
            "sync_encoder": {
                "class_path": "TinySync3DCNN",
                "init_args": {"fps": 24.0, "embed_dim": CONFIG.sync_dim, "width": 8},
            },
            "ema_decay": None,
        },
    }
    checkpoint, module = write_checkpoint(config, tmp_path / "run" / "last.ckpt")
    data_format = {"window": 1.0, "visual_size": [32, 32], "sync_size": [32, 32]}
    renderer = {"class_path": "DualMono", "init_args": {}}
    bundle = export_bundle(
        checkpoint, tmp_path / "bundle", ModelCard("mine"), renderer=renderer, data_format=data_format
    )
    moved.unlink()  # the bundle carries every weight: the released files are not read again
    parts = Bundle.open(bundle).parts
    assert parts["denoiser"]["config"]["init_args"]["checkpoint"] is None
    assert parts["codec"]["config"]["init_args"]["statistics"] is None
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    for name in ("denoiser", "codec"):
        ours, theirs = getattr(pipeline, name).state_dict(), getattr(module, name).state_dict()
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs), name
    assert pipeline.generate(prompt="a bell", duration=1.0, steps=1).samples.shape == (2, 16000)
