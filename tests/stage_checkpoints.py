"""Write ``foleyzoo fit``-style checkpoints of small untrained modules, for loaders of earlier stages' parts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule

from foleyzoo.plugins.allowlist import instantiate_from_config

TINY_SYNC = {
    "class_path": "foleyzoo.training.sync.SyncPretraining",
    "init_args": {
        "sync_encoder": {
            "class_path": "foleyzoo.encoders.sync.tiny3d.TinySync3DCNN",
            "init_args": {"fps": 24.0, "embed_dim": 16, "width": 8},
        },
        "feature_dim": 16,
    },
}
TINY_CONTRASTIVE = {
    "class_path": "foleyzoo.training.contrastive.AVContrastive",
    "init_args": {
        "visual_encoder": {
            "class_path": "foleyzoo.encoders.visual.tiny_cnn.TinyVisualCNN",
            "init_args": {"fps": 8.0, "embed_dim": 16, "width": 8},
        },
        "embed_dim": 16,
        "head_width": 16,
    },
}
TINY_CODEC = {
    "class_path": "foleyzoo.codecs.melvae.MelVAE",
    "init_args": {
        "sample_rate": 16000,
        "n_fft": 512,
        "hop_length": 128,
        "n_mels": 32,
        "latent_dim": 8,
        "downsample": 2,
        "channels": 16,
        "blocks": 1,
        "disc_channels": 8,
        "disc_scales": 1,
    },
}


def write_checkpoint(config: dict[str, Any], path: Path, seed: int = 0) -> tuple[Path, LightningModule]:
    """Build ``config`` (seeded) and save it as ``foleyzoo fit`` would: state dict plus the config in hyper-parameters."""
    torch.manual_seed(seed)
    module = instantiate_from_config(config, LightningModule, source="test")
    hyper_parameters = {"_class_path": config["class_path"], **config["init_args"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": hyper_parameters}, path)
    return path, module


SMALL_FLOW = [  # kling-tiny at the width of the small stage checkpoints, for one step
    "--trainer.max_steps=1",
    "--trainer.limit_val_batches=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.init_args.denoiser.init_args.latent_dim=8",
    "--model.init_args.denoiser.init_args.visual_dim=16",
    "--model.init_args.denoiser.init_args.sync_dim=16",
    "--model.init_args.denoiser.init_args.text_dim=16",
    "--model.init_args.denoiser.init_args.hidden=32",
    "--model.init_args.denoiser.init_args.joint_blocks=1",
    "--model.init_args.denoiser.init_args.single_blocks=1",
    "--model.init_args.text_encoder.init_args.embed_dim=16",
    "--model.init_args.vocoder.init_args.n_mels=32",
    "--data.init_args.num_train=2",
    "--data.init_args.num_val=2",
    "--data.init_args.batch_size=2",
    "--data.init_args.clip_duration=1.0",
]


def fit_small_flow(folder: Path) -> Path:
    """kling-tiny fitted for one step at small width in ``folder`` (stage checkpoints written where it names them)."""
    from tests.conftest import REPO_ROOT

    from foleyzoo.cli.main import run

    codec = {  # with an optimizer callable, as `foleyzoo fit` stores one
        "class_path": TINY_CODEC["class_path"],
        "init_args": {
            **TINY_CODEC["init_args"],
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.01}},
        },
    }
    write_checkpoint(codec, folder / "runs/melvae-tiny-16k/checkpoints/last.ckpt", seed=1)
    write_checkpoint(TINY_SYNC, folder / "runs/sync-tiny/checkpoints/last.ckpt", seed=2)
    write_checkpoint(TINY_CONTRASTIVE, folder / "runs/av-contrastive-tiny/checkpoints/last.ckpt", seed=3)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        code = run(["fit", "--config", str(REPO_ROOT / "recipes" / "kling-tiny.yaml"), *SMALL_FLOW])
    finally:
        os.chdir(previous)
    assert code == 0, f"the small kling-tiny fit exited with {code}"
    return folder / "runs/kling-tiny/checkpoints/last.ckpt"
