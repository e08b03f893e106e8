"""MMAudio's parts written as an ordinary bundle: it rebuilds through the allowlist and generates exactly what
the parts generate directly, on a video made outside SynthFoley, for the video's whole length; `foleyzoo
convert mmaudio` reads a whole checkout of files at a tiny size through the real loaders; and generation
equals MMAudio's own pipeline (a golden recorded with its code).

The parts are MMAudio's architectures at a tiny size with random weights (every parameter redrawn).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.encoders.builders import OPEN_CLIP, save_open_clip

from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.encoders.sync.synchformer import Synchformer
from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder
from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder
from foleyzoo.errors import ConfigError
from foleyzoo.io.media import probe, write_video
from foleyzoo.pipeline import Bundle, FoleyPipeline
from foleyzoo.pipeline.mmaudio import (
    BundlePart,
    MMAudioParts,
    SourceFile,
    data_format,
    locate_files,
    write_mmaudio_bundle,
)
from foleyzoo.renderers import DualMono
from foleyzoo.samplers import EulerSampler
from foleyzoo.vocoders.bigvgan import BigVGANVocoder
from foleyzoo.zoo.mmaudio.codec import codec_variant
from foleyzoo.zoo.mmaudio.denoiser import MMAudioDenoiser
from foleyzoo.zoo.mmaudio.vocoder import BIGVGAN_V1_16K, full_arguments, vocoder_variant
from foleyzoo.zoo.testing import random_state_dict


def randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter and float buffer redrawn (zero-initialised layers would make outputs trivial)."""
    state = module.state_dict()
    drawn = random_state_dict(
        {key: value.shape for key, value in state.items() if value.is_floating_point()}, seed
    )
    module.load_state_dict({**state, **drawn})
    return module.eval()


@pytest.fixture(scope="module")
def tiny_parts(tmp_path_factory) -> MMAudioParts:
    torch.manual_seed(0)
    clip = save_open_clip(tmp_path_factory.mktemp("clip") / "clip")
    visual, text = OpenCLIPVisualEncoder(str(clip)), OpenCLIPTextEncoder(str(clip))
    sync_config = dict(
        embed_dim=16, depth=1, heads=2, mlp_ratio=2.0, image_size=64, patch_size=16, feature_count="segments"
    )
    sync = randomised(Synchformer(**sync_config), 4)
    architecture = dict(
        latent_dim=4,
        clip_dim=visual.embed_dim,
        sync_dim=sync.embed_dim,
        text_dim=text.embed_dim,
        hidden=32,
        heads=2,
        joint_blocks=1,
        single_blocks=1,
        latent_rate=16000 / 256 / 2,
    )
    denoiser = randomised(MMAudioDenoiser(**architecture), 1)
    with torch.no_grad():
        denoiser.latent_std.abs_().add_(0.5)
    codec_args = {**codec_variant("16k").codec_arguments(), "latent_dim": 4, "hidden": 8}
    codec = randomised(EDM2MelVAE(**codec_args), 2)
    vocoder_args = full_arguments(vocoder_variant("16k"), {**BIGVGAN_V1_16K, "upsample_initial_channel": 128})
    vocoder = randomised(BigVGANVocoder(**vocoder_args), 3)
    with torch.no_grad():  # BigVGAN's weight-norm magnitudes at half gain keep it inside its tanh
        for parameter in vocoder.parameters():
            if parameter.dim() >= 2:
                parameter.mul_(0.5)
    codec.set_latent_statistics(denoiser.latent_mean, denoiser.latent_std)
    return MMAudioParts(
        denoiser=BundlePart("MMAudioDenoiser", architecture, denoiser),
        codec=BundlePart("EDM2MelVAE", codec_args, codec),
        vocoder=BundlePart("BigVGANVocoder", vocoder_args, vocoder),
        visual_encoder=BundlePart(
            "OpenCLIPVisualEncoder", {"model_cfg": visual.model_cfg, "fps": 8.0}, visual
        ),
        text_encoder=BundlePart("OpenCLIPTextEncoder", {"model_cfg": text.model_cfg}, text),
        sync_encoder=BundlePart("Synchformer", sync_config, sync),
    )


@pytest.fixture(scope="module")
def moving_shape(tmp_path_factory) -> Path:
    """6 s at 25 fps, 320 × 240: a disc crossing a grey field (not a SynthFoley clip)."""
    frames = np.full((150, 240, 320, 3), 90, dtype=np.uint8)
    rows, cols = np.mgrid[:240, :320]
    for k in range(150):
        disc = (rows - 120) ** 2 + (cols - (20 + 2 * k)) ** 2 < 30**2
        frames[k][disc] = (230, 60, 40)
    path = tmp_path_factory.mktemp("video") / "disc.mp4"
    write_video(path, frames, fps=25.0)
    return path


def test_the_bundle_generates_what_its_parts_generate(tiny_parts, moving_shape, tmp_path):
    sources = [SourceFile("denoiser", "mmaudio_small_16k.pth", 123, "ab" * 32)]
    bundle_path = write_mmaudio_bundle("small_16k", tiny_parts, tmp_path / "bundle", sources)
    bundle = Bundle.open(bundle_path)
    assert bundle.card.licence.startswith("CC-BY-NC-4.0") and "mmaudio_small_16k.pth" in bundle.card.notes
    assert bundle.config["generation"]["cfg_scale"] == 4.5
    assert bundle.config["data_format"]["frame_pick"] == "next"
    from_bundle = FoleyPipeline.from_bundle(bundle_path, device="cpu")
    direct = FoleyPipeline(
        codec=tiny_parts.codec.module,
        denoiser=tiny_parts.denoiser.module,
        vocoder=tiny_parts.vocoder.module,
        data_format=data_format(tiny_parts),
        text_encoder=tiny_parts.text_encoder.module,
        visual_encoder=tiny_parts.visual_encoder.module,
        sync_encoder=tiny_parts.sync_encoder.module,
        renderer=DualMono(),
        sampler=EulerSampler(steps=25),
        device="cpu",
        encode_empty_prompt=True,
    )
    ours = from_bundle.generate(moving_shape, prompt="a ball rolling", steps=1, seed=3)
    theirs = direct.generate(moving_shape, prompt="a ball rolling", steps=1, seed=3)
    assert ours.samples.shape == (2, 6 * 16000) and ours.sample_rate == 16000  # exactly the video's length
    assert torch.isfinite(ours.samples).all() and ours.samples.abs().max() > 0
    assert torch.equal(ours.samples, theirs.samples)
    assert torch.equal(ours.samples[0], ours.samples[1])  # DualMono
    noise = torch.randn(188, 4, generator=torch.Generator().manual_seed(3))  # ceil(6 s × 31.25) frames
    given = from_bundle.generate(
        moving_shape, prompt="a ball rolling", steps=1, seed=99, latents=noise, mono=True
    )
    assert given.samples.shape == (1, 6 * 16000)  # --mono: one channel
    assert torch.allclose(given.samples[0], ours.samples[0], atol=1e-5)  # seed 3's noise given as latents
    with pytest.raises(ConfigError, match=r"latents must be \(frames, channels\) = \(188, 4\)"):
        from_bundle.generate(moving_shape, steps=1, latents=noise[:100])


def test_generate_writes_a_wav_and_an_mp4_of_the_videos_length(tiny_parts, moving_shape, tmp_path):
    from foleyzoo.cli.main import run

    bundle_path = write_mmaudio_bundle("small_16k", tiny_parts, tmp_path / "bundle")
    code = run(
        [
            "generate",
            "--model",
            str(bundle_path),
            "--input",
            str(moving_shape),
            "--output",
            str(tmp_path / "out"),
            "--steps",
            "1",
        ]
    )
    assert code == 0
    wav, mp4 = tmp_path / "out" / "disc.wav", tmp_path / "out" / "disc.mp4"
    assert probe(wav).duration == pytest.approx(6.0, abs=1e-3)
    assert probe(mp4).duration == pytest.approx(6.0, abs=0.05) and probe(mp4).has_video


def test_a_codec_of_another_latent_size_is_refused(tiny_parts, tmp_path):
    other = EDM2MelVAE(**{**codec_variant("44k").codec_arguments(), "latent_dim": 40, "hidden": 8})
    parts = MMAudioParts(**{**tiny_parts.__dict__, "codec": BundlePart("EDM2MelVAE", {}, other)})
    with pytest.raises(ConfigError, match="the codec makes 40-channel latents, the denoiser takes 4"):
        write_mmaudio_bundle("small_16k", parts, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


# ------------------------------------------------------------------ locating the files


def checkout(root: Path, variant: str = "small_16k") -> Path:
    """Empty stand-ins for the files of MMAudio's checkout after its download step."""
    for relative in (
        f"weights/mmaudio_{variant}.pth",
        "ext_weights/v1-16.pth",
        "ext_weights/best_netG.pt",
        "ext_weights/synchformer_state_dict.pth",
        "ext_weights/DFN5B-CLIP-ViT-H-14-384/open_clip_config.json",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"")
    return root


def test_files_are_found_where_mmaudios_download_step_puts_them(tmp_path):
    files = locate_files("small_16k", checkout(tmp_path))
    assert files.network == tmp_path / "weights" / "mmaudio_small_16k.pth"
    assert files.vae.name == "v1-16.pth" and files.vocoder.name == "best_netG.pt"
    assert files.clip == str(tmp_path / "ext_weights" / "DFN5B-CLIP-ViT-H-14-384")
    moved = tmp_path / "elsewhere.pth"
    moved.write_bytes(b"")
    assert locate_files("small_16k", tmp_path, vae=moved).vae == moved


def test_a_missing_file_names_the_file_and_the_option_that_sets_it(tmp_path):
    checkout(tmp_path)
    (tmp_path / "ext_weights" / "synchformer_state_dict.pth").unlink()
    with pytest.raises(
        ConfigError, match=r"synchformer_state_dict.pth: not found; set it with --synchformer"
    ):
        locate_files("small_16k", tmp_path)
    with pytest.raises(ConfigError, match=r"v1-44.pth: not found; set it with --vae"):
        locate_files("medium_44k", checkout(tmp_path, "medium_44k"))


def test_clip_falls_back_to_the_hub_cache_name(tmp_path):
    checkout(tmp_path)
    (tmp_path / "ext_weights" / "DFN5B-CLIP-ViT-H-14-384" / "open_clip_config.json").unlink()
    (tmp_path / "ext_weights" / "DFN5B-CLIP-ViT-H-14-384").rmdir()
    assert locate_files("small_16k", tmp_path).clip == "hf-hub:apple/DFN5B-CLIP-ViT-H-14-384"


def test_nothing_is_downloaded_without_download(tmp_path, monkeypatch):
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("downloaded without --download")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(ConfigError, match="set it with --network"):
        locate_files("small_16k", tmp_path)


def test_a_failed_download_is_one_error_naming_the_folder(tmp_path, monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ConfigError, match=r"--download into .* failed \(OSError: network is unreachable\)"):
        locate_files("small_16k", tmp_path, download=True)


def test_download_fetches_into_the_checkout_layout(tmp_path, monkeypatch):
    import huggingface_hub

    fetched = []

    def fake_file(repo, filename, local_dir):
        fetched.append((repo, filename))
        (Path(local_dir) / filename).parent.mkdir(parents=True, exist_ok=True)
        (Path(local_dir) / filename).write_bytes(b"")

    def fake_snapshot(repo, allow_patterns, local_dir):
        fetched.append((repo, tuple(allow_patterns)))
        Path(local_dir).mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_file)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    files = locate_files("small_16k", tmp_path, download=True)
    assert ("hkchengrex/MMAudio", "weights/mmaudio_small_16k.pth") in fetched
    assert ("hkchengrex/MMAudio", "ext_weights/best_netG.pt") in fetched
    assert (
        "apple/DFN5B-CLIP-ViT-H-14-384",
        ("open_clip_config.json", "open_clip_pytorch_model.bin"),
    ) in fetched
    assert files.synchformer.is_file()
    assert json.dumps(str(files.clip))


# ------------------------------------------------------------------ the command


def test_convert_names_the_missing_file_and_its_option(tmp_path, capsys):
    from foleyzoo.cli.main import run

    checkout(tmp_path)
    (tmp_path / "ext_weights" / "v1-16.pth").unlink()
    code = run(
        [
            "convert",
            "mmaudio",
            "--variant",
            "small_16k",
            "--weights",
            str(tmp_path),
            "--output",
            str(tmp_path / "b"),
        ]
    )
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1
    assert "v1-16.pth: not found; set it with --vae" in error[0]
    assert not (tmp_path / "b").exists()


def test_convert_refuses_a_file_of_another_network_naming_it(tmp_path, capsys):
    from foleyzoo.cli.main import run

    checkout(tmp_path)
    torch.save({"not": torch.zeros(2)}, tmp_path / "weights" / "mmaudio_small_16k.pth")
    code = run(
        [
            "convert",
            "mmaudio",
            "--variant",
            "small_16k",
            "--weights",
            str(tmp_path),
            "--output",
            str(tmp_path / "b"),
        ]
    )
    captured = capsys.readouterr().err
    assert code == 2
    assert "warning:" in captured and "converting it as an unknown file" in captured  # size, hash: a warning
    assert "not MMAudio small_16k weights" in captured  # the keys: the error


def test_models_lists_a_converted_bundle_with_its_licence(tiny_parts, tmp_path, monkeypatch, capsys):
    from foleyzoo.cli.main import run

    monkeypatch.setenv("FOLEYZOO_HOME", str(tmp_path))
    write_mmaudio_bundle("small_16k", tiny_parts, tmp_path / "mmaudio_small_16k")
    assert run(["models"]) == 0
    listing = capsys.readouterr().out
    assert "mmaudio_small_16k" in listing and "CC-BY-NC-4.0" in listing


# ------------------------------------------------------------------ equal to MMAudio's own pipeline

GOLDEN = Path(__file__).parent / "data" / "mmaudio_pipeline_golden.safetensors"


def test_generate_on_a_converted_bundle_is_mmaudios_own_pipeline(tmp_path):
    """Recorded with MMAudio's load_video + generate on random weights of every part (a reduced size) for a
    2 s video; foleyzoo generate from the same noise x0 and frames matches it to 1e-3 (measured: 5.8e-7)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from foleyzoo.pipeline.mmaudio_parity import NETWORK, PipelineWeights, parity_bundle

    with safe_open(str(GOLDEN), "pt") as handle:
        metadata = handle.metadata()
    theirs = load_file(str(GOLDEN))["audio"]
    weights = PipelineWeights.draw(json.loads(metadata["shapes"]), int(metadata["seed"]))
    pipeline = FoleyPipeline.from_bundle(parity_bundle(weights, tmp_path), device="cpu")
    generator = torch.Generator().manual_seed(int(metadata["seed"]))
    x0 = torch.randn(1, int(metadata["latents"]), NETWORK.latent_dim, generator=generator)[0]
    ours = pipeline.generate(
        GOLDEN.with_name("mmaudio_pipeline_disc.mp4"),
        prompt=metadata["prompt"],
        duration=float(metadata["duration"]),
        steps=int(metadata["steps"]),
        latents=x0,
    ).samples
    assert ours.shape == (2, 32000)  # the video's 2 s; MMAudio returns whole latents (32,256 samples)
    error = (ours[0] - theirs[:32000]).abs().max() / theirs.abs().max()
    assert error <= 1e-3, f"relative max-abs error {error:.2e}"


# ------------------------------------------------------------------ convert, end to end, at a tiny size

ZOO_DATA = Path(__file__).parents[1] / "zoo" / "data"


def golden_shapes(name: str) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(ZOO_DATA / name), "pt") as stored:
        return {key: tuple(shape) for key, shape in json.loads(stored.metadata()["mmaudio_shapes"]).items()}


def tiny_release(root: Path, monkeypatch) -> None:
    """MMAudio's checkout layout with every file at a tiny size, and the manifests pointed at those sizes.

    The network's, the VAE's and BigVGAN's keys and shapes are those of the goldens recorded with MMAudio's
    code (the VAE's latent size set to the network's), so every file goes through its real loader.
    """
    from foleyzoo.vocoders.alias_free import resampling_filter
    from foleyzoo.zoo.mmaudio import manifest as manifests
    from foleyzoo.zoo.mmaudio.codec import CODEC_VARIANTS, CodecVariant
    from foleyzoo.zoo.mmaudio.parity import CONFIGS
    from foleyzoo.zoo.mmaudio.variants import VARIANTS, MMAudioVariant
    from foleyzoo.zoo.mmaudio.vocoder import BIGVGAN_V1_16K

    config = CONFIGS["tiny_v1_16k"]
    sizes = ("latent_dim", "hidden", "heads", "joint_blocks", "single_blocks", "sample_rate", "clip_dim")
    sizes += ("sync_dim", "text_dim", "text_tokens")
    monkeypatch.setitem(
        VARIANTS,
        "small_16k",
        MMAudioVariant(name="small_16k", hop=256, **{n: getattr(config, n) for n in sizes}),
    )
    network = golden_shapes("mmaudio_tiny_v1_16k.safetensors")
    monkeypatch.setitem(
        manifests.manifest()["files"],
        "small_16k",
        {"file": "mmaudio_small_16k.pth", "url": "https://example.invalid/n", "keys": network},
    )
    vae = golden_shapes("mmaudio_codec_vae_tiny_16k.safetensors")
    vae["encoder.conv_out.weight"] = (2 * config.latent_dim, *vae["encoder.conv_out.weight"][1:])
    vae["decoder.conv_in.weight"] = (
        vae["decoder.conv_in.weight"][0],
        config.latent_dim,
        vae["decoder.conv_in.weight"][2],
    )
    monkeypatch.setitem(
        CODEC_VARIANTS,
        "16k",
        CodecVariant("16k", "v1-16.pth", 16000, 1024, 256, 80, 8000.0, True, config.latent_dim, 16),
    )
    monkeypatch.setitem(
        manifests.codec_manifest()["codecs"],
        "16k",
        {"file": "v1-16.pth", "url": "https://example.invalid/v", "keys": vae},
    )
    vocoder = golden_shapes("mmaudio_codec_bigvgan_tiny_16k.safetensors")
    folded = {k.removesuffix("_v"): s for k, s in vocoder.items() if not k.endswith(("weight_g", "filter"))}
    monkeypatch.setitem(
        manifests.codec_manifest()["vocoders"],
        "16k",
        {**manifests.codec_manifest()["vocoders"]["16k"], "keys": folded, "size": None, "sha256": None},
    )
    monkeypatch.setitem(BIGVGAN_V1_16K, "upsample_initial_channel", 128)
    sync_config = dict(
        embed_dim=config.sync_dim, depth=1, heads=2, mlp_ratio=2.0, image_size=32, patch_size=16
    )
    monkeypatch.setattr("foleyzoo.pipeline.mmaudio.SYNCHFORMER_ARGUMENTS", sync_config)

    (root / "weights").mkdir(parents=True)
    ext = root / "ext_weights"
    ext.mkdir()
    torch.save(random_state_dict(network, 11), root / "weights" / "mmaudio_small_16k.pth")
    torch.save(random_state_dict(vae, 12), ext / "v1-16.pth")
    generator = random_state_dict(vocoder, 13)
    generator.update(
        {k: resampling_filter(2, 12).reshape(s) for k, s in vocoder.items() if k.endswith("filter")}
    )
    torch.save({"generator": generator}, ext / "best_netG.pt")
    sync = Synchformer(**sync_config)
    torch.save(
        {f"vfeat_extractor.{k}": v for k, v in randomised(sync, 14).state_dict().items()},
        ext / "synchformer_state_dict.pth",
    )
    clip = {**OPEN_CLIP, "embed_dim": config.clip_dim}
    clip["text_cfg"] = {**clip["text_cfg"], "width": config.text_dim, "context_length": config.text_tokens}
    save_open_clip(ext / "DFN5B-CLIP-ViT-H-14-384", clip, seed=15)


def test_convert_reads_every_file_and_the_bundle_generates_for_the_videos_length(
    moving_shape, tmp_path, monkeypatch
):
    from foleyzoo.cli.main import run

    tiny_release(tmp_path / "MMAudio", monkeypatch)
    output = tmp_path / "bundle"
    code = run(
        [
            "convert",
            "mmaudio",
            "--variant",
            "small_16k",
            "--weights",
            str(tmp_path / "MMAudio"),
            "--output",
            str(output),
        ]
    )
    assert code == 0
    card = Bundle.open(output).card
    assert (
        card.licence.startswith("CC-BY-NC-4.0") and "best_netG.pt" in card.notes and "v1-16.pth" in card.notes
    )
    code = run(
        [
            "generate",
            "--model",
            str(output),
            "--input",
            str(moving_shape),
            "--output",
            str(tmp_path / "out"),
            "--steps",
            "2",
        ]
    )
    assert code == 0
    assert probe(tmp_path / "out" / "disc.wav").duration == pytest.approx(6.0, abs=1e-3)
    assert probe(tmp_path / "out" / "disc.mp4").has_video
