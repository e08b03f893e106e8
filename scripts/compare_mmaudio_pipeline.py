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

It prints, for each duration, the relative max-abs error of the waveform,
max|foleyzoo − MMAudio| / max|MMAudio|, over MMAudio's samples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import Tensor, nn

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from compare_mmaudio_clip import write_model_folder  # noqa: E402
from compare_mmaudio_codec import mmaudio_bigvgan, mmaudio_vae, remove_weight_norm, vocoder_state  # noqa: E402
from compare_mmaudio_sync import mmaudio_assembled  # noqa: E402

from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder  # noqa: E402
from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder  # noqa: E402
from foleyzoo.io.media import write_video  # noqa: E402
from foleyzoo.pipeline import FoleyPipeline  # noqa: E402
from foleyzoo.pipeline.mmaudio import BundlePart, MMAudioParts, write_mmaudio_bundle  # noqa: E402
from foleyzoo.zoo.mmaudio.codec_parity import VOCODER_CONFIGS, VAEParityConfig, parity_codec, parity_vocoder  # noqa: E402
from foleyzoo.zoo.mmaudio.parity import ParityConfig, parity_denoiser  # noqa: E402
from foleyzoo.zoo.mmaudio.sync_parity import REDUCED_CONFIG, parity_state, parity_synchformer  # noqa: E402
from foleyzoo.zoo.mmaudio.vocoder import BIGVGAN_V1_16K, full_arguments, vocoder_variant  # noqa: E402
from foleyzoo.zoo.testing import random_state_dict  # noqa: E402

SEED = 31
CLIP_CFG = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 384, "layers": 2, "width": 64, "head_width": 32, "patch_size": 56},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
NETWORK = ParityConfig(
    "pipeline_tiny_16k",
    latent_dim=8,
    clip_dim=32,
    sync_dim=REDUCED_CONFIG["embed_dim"],
    text_dim=64,
    hidden=64,
    heads=2,
    joint_blocks=2,
    single_blocks=1,
    v2=False,
    sample_rate=16000,
)
VAE = VAEParityConfig("pipeline_vae_16k", "16k", latent_dim=8, hidden=16)
VOCODER = VOCODER_CONFIGS["bigvgan_tiny_16k"]


def relative_error(ours: Tensor, theirs: Tensor) -> float:
    theirs64 = theirs.double()
    return float((ours.double() - theirs64).abs().max() / theirs64.abs().max())


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


def mmaudio_network(duration: float, seed: int) -> tuple[nn.Module, dict[str, Tensor]]:
    from mmaudio.model.networks import MMAudio

    network = MMAudio(**NETWORK.mmaudio_arguments(duration)).eval()
    shapes = {key: value.shape for key, value in network.state_dict().items()}
    state = random_state_dict(shapes, seed)
    network.load_weights(dict(state))
    return network, state


def mmaudio_generate(
    video: Path, duration: float, prompt: str, steps: int, weights: SimpleNamespace
) -> tuple[Tensor, float, int]:
    """MMAudio's demo path: load_video, generate (negative prompt ""), its FlowMatching Euler sampler.

    Returns the waveform, the duration MMAudio settled on (its reader may shorten it) and its latent count.
    """
    import open_clip
    from mmaudio.eval_utils import generate, load_video
    from mmaudio.ext.autoencoder.autoencoder import AutoEncoderModule
    from mmaudio.model.flow_matching import FlowMatching
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
    vocoder.load_state_dict(weights.vocoder, strict=True)
    remove_weight_norm(vocoder)
    tod.vocoder = vocoder
    utils.tod = tod
    utils.eval()

    from mmaudio.model.sequence_config import CONFIG_16K

    info = load_video(video, duration)
    network, _ = weights.network
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


def foleyzoo_bundle(folder: Path, weights: SimpleNamespace) -> Path:
    """The same weights as foleyzoo parts, written as a bundle by the converter's writer."""
    clip_folder = folder / "clip"
    write_model_folder(clip_folder, CLIP_CFG, 0)
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in weights.clip.items()}, str(clip_folder / "open_clip_model.safetensors")
    )
    visual, text = OpenCLIPVisualEncoder(str(clip_folder)), OpenCLIPTextEncoder(str(clip_folder))
    _, network_state = weights.network
    denoiser = parity_denoiser(NETWORK, network_state)
    codec = parity_codec(VAE, weights.vae)
    codec.set_latent_statistics(denoiser.latent_mean, denoiser.latent_std)
    vocoder = parity_vocoder(VOCODER, weights.vocoder)
    sync_config = {**REDUCED_CONFIG, "feature_count": "segments"}
    sync = parity_synchformer(sync_config, weights.sync)  # official keys, vfeat_extractor.*
    vocoder_args = full_arguments(
        vocoder_variant("16k"),
        {**BIGVGAN_V1_16K, "upsample_initial_channel": VOCODER.config()["upsample_initial_channel"]},
    )
    parts = MMAudioParts(
        denoiser=BundlePart("MMAudioDenoiser", NETWORK.architecture(), denoiser),
        codec=BundlePart("EDM2MelVAE", VAE.codec_arguments(), codec),
        vocoder=BundlePart("BigVGANVocoder", vocoder_args, vocoder),
        visual_encoder=BundlePart("OpenCLIPVisualEncoder", {"model_cfg": CLIP_CFG, "fps": 8.0}, visual),
        text_encoder=BundlePart("OpenCLIPTextEncoder", {"model_cfg": CLIP_CFG}, text),
        sync_encoder=BundlePart("Synchformer", sync_config, sync),
    )
    return write_mmaudio_bundle("small_16k", parts, folder / "bundle")


def draw_weights(duration: float) -> SimpleNamespace:
    import open_clip

    clip_shapes = {k: v.shape for k, v in open_clip.model.CLIP(**CLIP_CFG).state_dict().items()}
    sync_shapes = {k: v.shape for k, v in mmaudio_assembled(REDUCED_CONFIG).state_dict().items()}
    vae_shapes = {k: v.shape for k, v in mmaudio_vae(VAE).state_dict().items()}
    vocoder, _ = vocoder_state(VOCODER, SEED + 4)
    return SimpleNamespace(
        network=mmaudio_network(duration, SEED),
        clip=random_state_dict(clip_shapes, SEED + 1),
        sync=parity_state(sync_shapes, SEED + 2),
        vae=random_state_dict(vae_shapes, SEED + 3),
        vocoder=vocoder,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[8.0, 6.0])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--prompt", default="a ball bouncing on a wooden floor")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for seconds in args.seconds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            video = folder / "disc.mp4"
            make_video(video, seconds)
            weights = draw_weights(seconds)
            theirs, used, latents = mmaudio_generate(video, seconds, args.prompt, args.steps, weights)
            x0 = torch.randn(1, latents, NETWORK.latent_dim, generator=torch.Generator().manual_seed(SEED))
            pipeline = FoleyPipeline.from_bundle(foleyzoo_bundle(folder, weights), device="cpu")
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
