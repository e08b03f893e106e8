"""Write ``foleyzoo fit``-style checkpoints of small untrained modules, for loaders of earlier stages' parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule

from foleyzoo.plugins.allowlist import instantiate_from_config

TINY_SYNC = {
    "class_path": "foleyzoo.pretraining.sync.SyncPretraining",
    "init_args": {
        "sync_encoder": {
            "class_path": "foleyzoo.encoders.sync.tiny3d.TinySync3DCNN",
            "init_args": {"fps": 24.0, "embed_dim": 16, "width": 8},
        },
        "feature_dim": 16,
    },
}
TINY_CONTRASTIVE = {
    "class_path": "foleyzoo.pretraining.contrastive.AVContrastive",
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
