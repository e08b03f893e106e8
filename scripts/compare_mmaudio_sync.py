"""Compare foleyzoo's Synchformer with MMAudio's own Synchformer code, record the test golden, write the
manifest of the released file's visual-extractor keys.

Needs MMAudio's code importable (``git clone https://github.com/hkchengrex/MMAudio`` and
``PYTHONPATH=path/to/MMAudio``; its Synchformer needs ``timm`` and ``omegaconf``, its
``features_utils`` ``open_clip_torch``); not run in CI. Both sides load the same random weights
(:func:`foleyzoo.zoo.mmaudio.sync_parity.parity_state`, in the official names with the
``vfeat_extractor.`` prefix) — no released weights are needed — and get the same frames; MMAudio's side
runs through its ``FeaturesUtils.encode_video_with_sync`` (segmenting and concatenation included).

    python scripts/compare_mmaudio_sync.py compare [--frames 24] [--batch 1]
    python scripts/compare_mmaudio_sync.py record     # rewrite tests/zoo/data/mmaudio_sync_reduced.safetensors
    python scripts/compare_mmaudio_sync.py manifest   # rewrite src/foleyzoo/zoo/mmaudio/sync_manifest.json

``compare`` prints the relative max-abs error, max|foleyzoo − MMAudio| / max|MMAudio|, at full size
(768 wide, 12 blocks, 224 px) and for the reduced configuration of the golden. MMAudio's ``MotionFormer``
reads its size from a fixed config file, so the reduced reference is built from the same classes: its
parent ``VisionTransformer`` constructed with a reduced copy of that config and the feature-extraction
parts ``MotionFormer.__init__`` adds (the spatial ``SpatialTransformerEncoderLayer``); ``compare`` checks
that this assembly, built at full size, gives exactly what MMAudio's ``Synchformer()`` gives.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from foleyzoo.zoo.mmaudio.sync_parity import (
    FULL_CONFIG,
    REDUCED_CONFIG,
    parity_frames,
    parity_state,
    parity_synchformer,
)
from foleyzoo.zoo.testing import compact_json, mmaudio_commit, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "zoo" / "data" / "mmaudio_sync_reduced.safetensors"
MANIFEST = REPO_ROOT / "src" / "foleyzoo" / "zoo" / "mmaudio" / "sync_manifest.json"
WEIGHTS_SEED, INPUTS_SEED = 27, 9
GOLDEN_BATCH, GOLDEN_FRAMES = 2, 24
"""The golden's clips: 24 frames (two segments, overlapping by 8 frames) in a batch of two."""

PUBLISHED: dict[str, Any] = {
    "file": "synchformer_state_dict.pth",
    "url": "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth",
    "licence": (
        "as distributed with MMAudio, whose README puts its checkpoints under CC-BY-NC 4.0; Synchformer is "
        "Iashin et al.'s (https://github.com/v-iashin/Synchformer)"
    ),
    "size": None,
    "size_rounded": "907M",
    "sha256": None,
    "md5": "5b2f5594b0730f70e41e549b7c94390c",
    "prefix": "vfeat_extractor.",
}
SOURCES = {
    "code": (
        "https://github.com/hkchengrex/MMAudio (mmaudio/ext/synchformer/synchformer.py, motionformer.py, "
        "video_model_builder.py, vit_helper.py, divided_224_16x4.yaml); keys and shapes from these network "
        "definitions"
    ),
    "md5": "MMAudio's mmaudio/utils/download_utils.py (no SHA-256 is published)",
    "size_rounded": "MMAudio's docs/MODELS.md (907M; no exact size is published)",
    "keys": (
        "the keys of Synchformer's visual extractor (vfeat_extractor.*), those the encoder loads; the "
        "released file is a whole Synchformer state dict (907M, far more than the 122.4 M float32 "
        "parameters listed) with its other parts too (MMAudio's Synchformer.load_state_dict keeps only "
        "vfeat_extractor.*), which MMAudio's code does not define"
    ),
}


# --------------------------------------------------------------------------- MMAudio's side


def mmaudio_synchformer() -> nn.Module:
    """MMAudio's ``Synchformer()`` as MMAudio builds it (full size, its config file)."""
    from mmaudio.ext.synchformer.synchformer import Synchformer as Reference

    return Reference().eval()


def mmaudio_assembled(config: Mapping[str, Any]) -> nn.Module:
    """MMAudio's Synchformer at ``config``'s size, built from its own classes (see the module docstring)."""
    from mmaudio.ext.synchformer import motionformer
    from mmaudio.ext.synchformer.synchformer import Synchformer as Reference
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(Path(motionformer.__file__).parent / "divided_224_16x4.yaml")
    # the settings MotionFormer.__init__ patches into the file's config, then the reduced size
    cfg.VIT.ATTN_DROPOUT = 0.0
    cfg.VIT.POS_EMBED = "separate"
    cfg.VIT.USE_ORIGINAL_TRAJ_ATTN_CODE = True
    cfg.VIT.APPROX_ATTN_TYPE = "none"
    cfg.VIT.APPROX_ATTN_DIM = 64
    cfg.VIT.EMBED_DIM, cfg.VIT.DEPTH, cfg.VIT.NUM_HEADS = (
        config["embed_dim"],
        config["depth"],
        config["heads"],
    )
    cfg.VIT.MLP_RATIO = int(config["mlp_ratio"])
    cfg.VIT.PATCH_SIZE, cfg.DATA.TRAIN_CROP_SIZE = config["patch_size"], config["image_size"]

    extractor = motionformer.MotionFormer.__new__(motionformer.MotionFormer)
    motionformer.VisionTransformer.__init__(extractor, cfg)
    # what MotionFormer.__init__ adds with extract_features=True, factorize_space_time=True,
    # agg_space_module='TransformerEncoderLayer', agg_time_module='torch.nn.Identity', add_global_repr=False
    extractor.extract_features, extractor.factorize_space_time, extractor.add_global_repr = True, True, False
    extractor.ckpt_path = None
    extractor.pre_logits, extractor.head, extractor.head_drop = nn.Identity(), nn.Identity(), nn.Identity()
    extractor.spatial_attn_agg = motionformer.SpatialTransformerEncoderLayer(
        d_model=extractor.embed_dim,
        nhead=extractor.num_heads,
        activation=nn.GELU(),
        batch_first=True,
        dim_feedforward=extractor.mlp_ratio * extractor.embed_dim,
        dropout=extractor.drop_rate,
        layer_norm_eps=1e-6,
        norm_first=True,
    )
    extractor.temp_attn_agg = nn.Identity()
    extractor.patch_embed.requires_grad_(False)

    network = Reference.__new__(Reference)
    nn.Module.__init__(network)
    network.vfeat_extractor = extractor
    return network.eval()


def mmaudio_features(network: nn.Module, state: Mapping[str, Tensor], frames: Tensor) -> Tensor:
    """MMAudio's ``FeaturesUtils.encode_video_with_sync`` on ``frames`` with ``state`` loaded."""
    from mmaudio.model.utils.features_utils import FeaturesUtils

    network.load_state_dict(dict(state), strict=True)
    return FeaturesUtils.encode_video_with_sync(SimpleNamespace(synchformer=network), frames)


def mmaudio_shapes(network: nn.Module) -> dict[str, list[int]]:
    return {key: list(value.shape) for key, value in network.state_dict().items()}


def fingerprint(state: Mapping[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


# --------------------------------------------------------------------------- commands


def ours(config: Mapping[str, Any], state: Mapping[str, Tensor], frames: Tensor) -> Tensor:
    with torch.no_grad():
        return parity_synchformer(config, state).mmaudio_features(frames)


def command_compare(args: argparse.Namespace) -> int:
    frames_full = parity_frames(args.batch, args.frames, FULL_CONFIG["image_size"], INPUTS_SEED)
    print(f"frames {tuple(frames_full.shape)}; torch {torch.__version__}, {torch.get_num_threads()} threads")

    start = time.perf_counter()
    reference = mmaudio_synchformer()
    state = parity_state(mmaudio_shapes(reference), WEIGHTS_SEED)
    theirs = mmaudio_features(reference, state, frames_full)
    mine = ours(FULL_CONFIG, state, frames_full)
    print(
        f"full size (768 wide, 12 blocks, 224 px): features {tuple(theirs.shape)}, "
        f"max|MMAudio| {theirs.abs().max():.4g}, relative max-abs error {relative_error(mine, theirs):.3e} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    assembled = mmaudio_features(mmaudio_assembled(FULL_CONFIG), state, frames_full)
    print(f"the reduced-size assembly at full size equals Synchformer(): {torch.equal(assembled, theirs)}")
    del reference

    frames = parity_frames(GOLDEN_BATCH, GOLDEN_FRAMES, REDUCED_CONFIG["image_size"], INPUTS_SEED)
    network = mmaudio_assembled(REDUCED_CONFIG)
    state = parity_state(mmaudio_shapes(network), WEIGHTS_SEED)
    theirs = mmaudio_features(network, state, frames)
    mine = ours(REDUCED_CONFIG, state, frames)
    print(
        f"reduced {REDUCED_CONFIG}: features {tuple(theirs.shape)}, relative max-abs error "
        f"{relative_error(mine, theirs):.3e}"
    )
    return 0


def command_record(args: argparse.Namespace) -> int:
    provenance = f"hkchengrex/MMAudio {mmaudio_commit()}, torch {torch.__version__}"
    network = mmaudio_assembled(REDUCED_CONFIG)
    shapes = mmaudio_shapes(network)
    state = parity_state(shapes, WEIGHTS_SEED)
    frames = parity_frames(GOLDEN_BATCH, GOLDEN_FRAMES, REDUCED_CONFIG["image_size"], INPUTS_SEED)
    features = mmaudio_features(network, state, frames)
    metadata = {
        "config": json.dumps(REDUCED_CONFIG),
        "mmaudio_shapes": json.dumps(shapes),
        "weights_seed": str(WEIGHTS_SEED),
        "weights_fingerprint": repr(fingerprint(state)),
        "inputs_seed": str(INPUTS_SEED),
        "frames_shape": json.dumps(list(frames.shape)),
        "recorded_with": provenance,
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    save_file({"features": features.contiguous()}, str(GOLDEN), metadata)
    print(
        f"wrote {GOLDEN.relative_to(REPO_ROOT)} ({GOLDEN.stat().st_size} bytes): features {tuple(features.shape)}"
    )
    return 0


def command_manifest(args: argparse.Namespace) -> int:
    keys = mmaudio_shapes(mmaudio_synchformer())
    manifest = {
        "format": 1,
        "mmaudio_commit": mmaudio_commit(),
        "sources": SOURCES,
        "files": {"synchformer": {**PUBLISHED, "architecture": FULL_CONFIG, "keys": keys}},
    }
    MANIFEST.write_text(compact_json(manifest) + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)}: {len(keys)} keys")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="full-size and reduced errors against MMAudio's code")
    compare.add_argument("--frames", type=int, default=24, help="frames of each clip (24: two segments)")
    compare.add_argument("--batch", type=int, default=1)
    commands.add_parser("record", help="rewrite the golden the tests compare with")
    commands.add_parser("manifest", help="rewrite the manifest's keys and shapes from MMAudio's code")
    args = parser.parse_args(argv)
    with torch.no_grad():
        return {"compare": command_compare, "record": command_record, "manifest": command_manifest}[
            args.command
        ](args)


if __name__ == "__main__":
    sys.exit(main())
