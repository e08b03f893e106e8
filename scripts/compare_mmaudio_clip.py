"""Compare foleyzoo's open_clip encoders with MMAudio's own CLIP feature code, and record the test goldens.

Needs MMAudio's code importable (``git clone https://github.com/hkchengrex/MMAudio`` and
``PYTHONPATH=path/to/MMAudio``; importing its feature utilities needs ``omegaconf``, ``colorlog`` and
``torchdiffeq``); not run in CI. Both sides get the same open_clip model with random weights
(:func:`foleyzoo.zoo.testing.random_state_dict`) — no released weights are needed — and the same 8-bit
frames and prompts. MMAudio's side is its ``FeaturesUtils.encode_video_with_clip`` and ``encode_text``
(with its ``patch_clip``) after its frame transform (squash to the model's size, bicubic, on uint8).

    python scripts/compare_mmaudio_clip.py record    # rewrite tests/encoders/data/mmaudio_clip_golden.*
    python scripts/compare_mmaudio_clip.py compare   # full size (DFN5B ViT-H/14 at 384 px), random weights

``compare`` prints the relative max-abs error, max|foleyzoo − MMAudio| / max|MMAudio|.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from foleyzoo.api import Video
from foleyzoo.encoders.open_clip_loader import CONFIG_FILE, OPENAI_MEAN, OPENAI_STD
from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder
from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder
from foleyzoo.zoo.testing import random_state_dict, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "encoders" / "data" / "mmaudio_clip_golden.safetensors"
WEIGHTS_SEED, INPUTS_SEED = 27, 9
PROMPTS = ["a dog barking in the rain", "", "footsteps on gravel, then a door slams"]
TINY = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 384, "layers": 2, "width": 64, "head_width": 32, "patch_size": 56},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
"""A reduced DFN5B layout: 384 px (MMAudio checks it), QuickGELU, a patch that does not divide the image (as 14 does not)."""
DFN5B = {
    "embed_dim": 1024,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 384, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24},
}
"""``apple/DFN5B-CLIP-ViT-H-14-384``'s ``model_cfg``."""


def write_model_folder(folder: Path, model_cfg: dict, seed: int) -> dict[str, Tensor]:
    """An open_clip model folder (config and safetensors) with random weights drawn from ``seed``."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    preprocess = {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD), "interpolation": "bicubic"}
    (folder / CONFIG_FILE).write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess}))
    shapes = {
        key: tuple(value.shape) for key, value in open_clip.model.CLIP(**model_cfg).state_dict().items()
    }
    state = random_state_dict(shapes, seed)
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return state


def mmaudio_features(model_cfg: dict, state: dict[str, Tensor], frames: Tensor, prompts: list[str]):
    """MMAudio's CLIP features of uint8 frames (B, T, 3, H, W) and its text features, with its own code."""
    import open_clip
    from mmaudio.model.utils.features_utils import FeaturesUtils, patch_clip
    from torchvision.transforms import v2

    clip = open_clip.model.CLIP(**model_cfg)
    clip.load_state_dict(state)
    utils = FeaturesUtils.__new__(FeaturesUtils)
    nn.Module.__init__(utils)
    utils.clip_model = patch_clip(clip.eval())
    utils.clip_preprocess = v2.Normalize(mean=list(OPENAI_MEAN), std=list(OPENAI_STD))
    utils.tokenizer = open_clip.get_tokenizer("ViT-H-14-378-quickgelu")
    size = model_cfg["vision_cfg"]["image_size"]
    transform = v2.Compose(
        [
            v2.Resize((size, size), interpolation=v2.InterpolationMode.BICUBIC),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    batch = torch.stack([transform(clip_frames) for clip_frames in frames])
    return utils.encode_video_with_clip(batch), utils.encode_text(prompts)


def foleyzoo_features(folder: Path, frames: Tensor, prompts: list[str]) -> tuple[Tensor, Tensor]:
    visual = OpenCLIPVisualEncoder(str(folder))
    text = OpenCLIPTextEncoder(str(folder))
    with torch.no_grad():
        video = Video(frames.float() / 255.0, fps=8.0)
        return visual.encode(video).values, text.encode(prompts).tokens


def inputs(height: int, width: int, count: int = 3) -> Tensor:
    """uint8 frames (2, count, 3, height, width): smooth gradients with noise, as decoded video looks."""
    generator = torch.Generator().manual_seed(INPUTS_SEED)
    ramp = torch.linspace(0, 1, width).view(1, 1, 1, 1, width) * torch.linspace(0, 1, height).view(
        1, 1, 1, height, 1
    )
    noise = torch.rand(2, count, 3, height, width, generator=generator)
    return (255 * (0.6 * ramp + 0.4 * noise)).round().to(torch.uint8)


def command_record(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        state = write_model_folder(folder, TINY, WEIGHTS_SEED)
        frames = inputs(60, 80)
        clip_theirs, text_theirs = mmaudio_features(TINY, state, frames, PROMPTS)
        clip_ours, text_ours = foleyzoo_features(folder, frames, PROMPTS)
    print(
        f"tiny: clip {relative_error(clip_ours, clip_theirs):.2e}, text {relative_error(text_ours, text_theirs):.2e}"
    )
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "model_cfg": json.dumps(TINY),
        "weights_seed": str(WEIGHTS_SEED),
        "prompts": json.dumps(PROMPTS),
        "provenance": "MMAudio's FeaturesUtils.encode_video_with_clip / encode_text (patch_clip), random weights",
    }
    tensors = {
        "frames": frames,
        "clip_features": clip_theirs.contiguous(),
        "text_features": text_theirs.contiguous(),
    }
    save_file(tensors, str(GOLDEN), metadata=metadata)
    print(f"wrote {GOLDEN.relative_to(REPO_ROOT)} ({GOLDEN.stat().st_size:,} bytes)")
    return 0


def command_compare(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dfn5b"
        started = time.perf_counter()
        state = write_model_folder(folder, DFN5B, WEIGHTS_SEED)
        frames = inputs(240, 320, count=args.frames)[:1]
        clip_theirs, text_theirs = mmaudio_features(DFN5B, state, frames, PROMPTS)
        del state
        clip_ours, text_ours = foleyzoo_features(folder, frames, PROMPTS)
        seconds = time.perf_counter() - started
    print("| part | case | relative max-abs error |\n| --- | --- | ---: |")
    print(
        f"| CLIP image | {args.frames} frames of 320×240 → 384×384 | {relative_error(clip_ours, clip_theirs):.2e} |"
    )
    print(f"| CLIP text | {len(PROMPTS)} prompts, 77 tokens | {relative_error(text_ours, text_theirs):.2e} |")
    print(f"({seconds:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="full-size errors against MMAudio's code")
    compare.add_argument("--frames", type=int, default=4, help="frames of one clip (default 4)")
    commands.add_parser("record", help="rewrite the golden the tests compare with")
    args = parser.parse_args(argv)
    return {"compare": command_compare, "record": command_record}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
