"""Compare ``foleyzoo generate`` on a converted MMAudio bundle with MMAudio's own pipeline, end to end.

Needs MMAudio's code importable (``PYTHONPATH=path/to/MMAudio``; with ``omegaconf``, ``colorlog``,
``torchdiffeq`` for its imports); not run in CI. Every part gets random weights (no released file is
needed), the same on both sides, at a reduced size: the network (2 joint blocks and 1 single block,
hidden 64), the 16 kHz VAE (hidden 16) and BigVGAN (128 channels), CLIP (2 layers, 384 px) and
Synchformer (64 wide, 2 blocks, 224 px). A video is made here (a disc crossing a gradient, 25 fps,
320×240). MMAudio's side is its ``eval_utils.load_video`` and ``eval_utils.generate`` (CFG 4.5, Euler,
negative prompt ""), as its ``demo.py`` runs them; foleyzoo's side is a bundle written by
``foleyzoo.pipeline.mmaudio.write_mmaudio_bundle`` and ``FoleyPipeline.generate`` given the same
initial noise x0.

    python scripts/compare_mmaudio_pipeline.py [--seconds 8 6] [--steps 25] [--prompt "..."]
    python scripts/compare_mmaudio_pipeline.py --record   # rewrite the golden of tests/pipeline (2 s)

It prints, for each duration, the relative max-abs error of the waveform,
max|foleyzoo − MMAudio| / max|MMAudio|, over MMAudio's samples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from compare_mmaudio_codec import (  # noqa: E402
    mmaudio_bigvgan,
    mmaudio_vae,
    official_names,
    remove_weight_norm,
    vocoder_state,
)
from compare_mmaudio_sync import mmaudio_assembled  # noqa: E402

from foleyzoo.io.media import write_video  # noqa: E402
from foleyzoo.pipeline import FoleyPipeline  # noqa: E402
from foleyzoo.pipeline.mmaudio_parity import (  # noqa: E402
    CLIP_CFG,
    NETWORK,
    SEED,
    VAE,
    VOCODER,
    PipelineWeights,
    parity_bundle,
)
from foleyzoo.zoo.mmaudio.sync_parity import REDUCED_CONFIG  # noqa: E402
from foleyzoo.zoo.testing import relative_error  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "pipeline" / "data"
RECORD_SECONDS = 2.0
RECORD_PROMPT = "a ball bouncing on a wooden floor"


def make_video(path: Path, seconds: float) -> None:
    """``seconds`` and one frame more: MMAudio's reader, summing 1/25 s steps, passes over a last frame that
    sits exactly on an instant (an 8.00 s video reads as 7.96 s), so both sides get whole ``seconds``."""
    count = round(seconds * 25) + 1
    frames = np.empty((count, 240, 320, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(20, 200, 320, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.linspace(30, 160, 240, dtype=np.uint8)[None, :, None]
    frames[..., 2] = 90
    rows, cols = np.mgrid[:240, :320]
    for k in range(count):
        disc = (rows - 120) ** 2 + (cols - (30 + 260 * k / count)) ** 2 < 28**2
        frames[k][disc] = (240, 240, 60)
    write_video(path, frames, fps=25.0)


def mmaudio_shapes(duration: float) -> dict[str, dict[str, list[int]]]:
    """Each part's keys and shapes in its original names, from MMAudio's own network definitions."""
    from mmaudio.model.networks import MMAudio

    def shapes(network: nn.Module) -> dict[str, list[int]]:
        return {key: list(value.shape) for key, value in network.state_dict().items()}

    return {
        "network": shapes(MMAudio(**NETWORK.mmaudio_arguments(duration))),
        "sync": shapes(mmaudio_assembled(REDUCED_CONFIG)),
        "vae": shapes(mmaudio_vae(VAE)),
        "vocoder": vocoder_state(VOCODER, SEED)[1],
    }


def mmaudio_generate(
    video: Path, duration: float, prompt: str, steps: int, weights: PipelineWeights
) -> tuple[Tensor, float, int]:
    """MMAudio's demo path: load_video, generate (negative prompt ""), its FlowMatching Euler sampler.

    Returns the waveform, the duration MMAudio settled on (its reader may shorten it) and its latent count.
    """
    import open_clip
    from mmaudio.eval_utils import generate, load_video
    from mmaudio.ext.autoencoder.autoencoder import AutoEncoderModule
    from mmaudio.model.flow_matching import FlowMatching
    from mmaudio.model.networks import MMAudio
    from mmaudio.model.utils.features_utils import FeaturesUtils, patch_clip
    from torchvision.transforms import Normalize

    clip = open_clip.model.CLIP(**CLIP_CFG)
    clip.load_state_dict(weights.clip)
    utils = FeaturesUtils.__new__(FeaturesUtils)
    nn.Module.__init__(utils)
    utils.clip_model = patch_clip(clip.eval())
    utils.clip_preprocess = Normalize(
        mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711]
    )
    utils.tokenizer = open_clip.get_tokenizer("ViT-H-14-378-quickgelu")
    utils.synchformer = mmaudio_assembled(REDUCED_CONFIG)
    utils.synchformer.load_state_dict(weights.sync, strict=True)
    tod = AutoEncoderModule.__new__(AutoEncoderModule)
    nn.Module.__init__(tod)
    tod.vae = mmaudio_vae(VAE, weights.vae)
    vocoder = mmaudio_bigvgan(VOCODER).eval()
    reference = official_names(vocoder.state_dict())  # the resampling filters as MMAudio computes them
    vocoder.load_state_dict(
        {k: (reference[k] if k.endswith("filter") else v) for k, v in weights.vocoder.items()}, strict=True
    )
    remove_weight_norm(vocoder)
    tod.vocoder = vocoder
    utils.tod = tod
    utils.eval()

    from mmaudio.model.sequence_config import CONFIG_16K

    info = load_video(video, duration)
    network = MMAudio(**NETWORK.mmaudio_arguments(duration)).eval()
    network.load_weights(dict(weights.network))
    sequence = CONFIG_16K
    sequence.duration = info.duration_sec  # as demo.py: the lengths of the duration the frames give
    network.update_seq_lengths(sequence.latent_seq_len, sequence.clip_seq_len, sequence.sync_seq_len)
    rng = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        audio = generate(
            info.clip_frames[None],
            info.sync_frames[None],
            [prompt],
            negative_text=[""],
            feature_utils=utils,
            net=network,
            fm=FlowMatching(min_sigma=0, inference_mode="euler", num_steps=steps),
            rng=rng,
            cfg_strength=4.5,
        )
    return audio.float()[0, 0], info.duration_sec, network.latent_seq_len


def record(steps: int) -> int:
    """Write the golden the tests compare with: the video, the shapes, MMAudio's waveform (2 s)."""
    import json

    from safetensors.torch import save_file

    GOLDEN.mkdir(parents=True, exist_ok=True)
    video = GOLDEN / "mmaudio_pipeline_disc.mp4"
    make_video(video, RECORD_SECONDS)
    shapes = mmaudio_shapes(RECORD_SECONDS)
    weights = PipelineWeights.draw(shapes)
    audio, used, latents = mmaudio_generate(video, RECORD_SECONDS, RECORD_PROMPT, steps, weights)
    metadata = {
        "shapes": json.dumps(shapes, separators=(",", ":")),
        "seed": str(SEED),
        "prompt": RECORD_PROMPT,
        "duration": repr(used),
        "latents": str(latents),
        "steps": str(steps),
        "provenance": "MMAudio's eval_utils.load_video + generate (negative prompt '', CFG 4.5, Euler), random weights",
    }
    save_file(
        {"audio": audio.contiguous()}, str(GOLDEN / "mmaudio_pipeline_golden.safetensors"), metadata=metadata
    )
    print(f"wrote {video.name} ({video.stat().st_size:,} bytes) and the golden: {audio.shape[-1]} samples")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[8.0, 6.0])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--prompt", default="a ball bouncing on a wooden floor")
    parser.add_argument(
        "--record", action="store_true", help="rewrite tests/pipeline/data/mmaudio_pipeline_*"
    )
    args = parser.parse_args(argv)
    if args.record:
        return record(args.steps)
    torch.manual_seed(0)
    rows = []
    for seconds in args.seconds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            video = folder / "disc.mp4"
            make_video(video, seconds)
            weights = PipelineWeights.draw(mmaudio_shapes(seconds))
            theirs, used, latents = mmaudio_generate(video, seconds, args.prompt, args.steps, weights)
            x0 = torch.randn(1, latents, NETWORK.latent_dim, generator=torch.Generator().manual_seed(SEED))
            pipeline = FoleyPipeline.from_bundle(parity_bundle(weights, folder), device="cpu")
            generated = pipeline.generate(
                video, prompt=args.prompt, duration=used, steps=args.steps, latents=x0[0]
            )
            ours = generated.samples[0]
        shared = min(ours.shape[-1], theirs.shape[-1])
        error = relative_error(ours[:shared], theirs[:shared])
        rows.append((seconds, used, theirs.shape[-1], ours.shape[-1], error))
        print(
            f"{seconds:g} s (MMAudio: {used:g} s): {theirs.shape[-1]} and {ours.shape[-1]} samples: {error:.2e}"
        )
        print(f"  ({time.perf_counter() - started:.0f} s)")
    print(
        "\n| asked | MMAudio's duration | MMAudio's samples | foleyzoo's samples | relative max-abs error |"
        "\n| --- | --- | ---: | ---: | ---: |"
    )
    for seconds, used, theirs_n, ours_n, error in rows:
        print(f"| {seconds:g} s | {used:g} s | {theirs_n:,} | {ours_n:,} | {error:.2e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
