"""Bundles and FoleyPipeline: export, safe loading, any-length generation, modes and seeds."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import torch

from foleyzoo.data.clips import ClipFormat
from foleyzoo.errors import ConfigError, FoleyzooError
from foleyzoo.pipeline import Bundle, FoleyPipeline, ModelCard, VideoFrames, export_bundle
from foleyzoo.pipeline.pipeline import _groups
from foleyzoo.pipeline.windows import Window, crossfade, plan_windows, shared_grid
from foleyzoo.synthfoley.datamodule import SynthFoleyClips
from foleyzoo.synthfoley.generator import FPS as SYNTH_FPS

FRAMES_ONLY = ClipFormat(visual_fps=None, sync_fps=None, sample_rate=None)


def synth_video(seconds: float, seed: int = 7) -> VideoFrames:
    clip = SynthFoleyClips(
        1,
        seed,
        ClipFormat(visual_fps=SYNTH_FPS, visual_size=(32, 32), sync_fps=None, sample_rate=None),
        seconds,
    )[0]
    return VideoFrames(clip["visual"], SYNTH_FPS)


# ------------------------------------------------------------------ windows


def test_windows_cover_the_video_on_the_shared_grid_and_overlap() -> None:
    assert (
        shared_grid(62.5, [8.0, 24.0]) == 125
    )  # 2 s: where 16 ms latents, 8 fps and 24 fps frames all start
    windows = plan_windows(total=1000, window=250, overlap=62, grid=125)
    assert windows[0] == Window(0, 250) and windows[-1].start + windows[-1].frames == 1000
    for before, after in itertools.pairwise(windows):
        assert after.start % 125 == 0 and before.start + before.frames - after.start >= 62
    assert plan_windows(total=100, window=250, overlap=62) == [Window(0, 100)]
    assert all(w.start % 1 == 0 for w in plan_windows(400, 62, 10, grid=125))  # grid too coarse: per frame


def test_crossfade_keeps_agreeing_windows_and_blends_smoothly() -> None:
    windows = plan_windows(total=300, window=100, overlap=40)
    same = [torch.ones(w.frames, 2) for w in windows]
    torch.testing.assert_close(crossfade(same, windows, 300), torch.ones(300, 2))
    steps = [torch.full((w.frames, 1), float(i)) for i, w in enumerate(windows)]
    joined = crossfade(steps, windows, 300)[:, 0]
    assert joined.diff().min() >= 0 and joined.diff().max() < 0.1  # no jump at a seam


# ------------------------------------------------------------------ bundles


def test_a_bundle_holds_one_config_safetensors_and_a_card(bundle: Path) -> None:
    config = json.loads((bundle / "config.json").read_text())
    assert {
        "codec",
        "denoiser",
        "text_encoder",
        "visual_encoder",
        "sync_encoder",
        "vocoder",
        "renderer",
    } == set(config["parts"])
    assert (bundle / "denoiser.safetensors").is_file() and config["parts"]["vocoder"]["weights"] is None
    assert config["data_format"]["window"] == 1.0 and config["data_format"]["visual_size"] == [32, 32]
    assert (
        "architecture" in config["parts"]["codec"]["config"]["init_args"]
    )  # no path to an earlier stage's file
    opened = Bundle.open(bundle)
    assert opened.card.scores == {"f1": 0.5} and "| f1 | 0.5 |" in (bundle / "README.md").read_text()


def test_an_exported_denoiser_is_the_ema_copy(bundle: Path, tmp_path: Path) -> None:
    from foleyzoo.io.checkpoints import load_module

    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    checkpoint = next((bundle.parent / "runs/kling-tiny/checkpoints").glob("last.ckpt"))
    model = load_module(checkpoint)
    ema = dict(model.sampling_denoiser().state_dict())
    for name, value in pipeline.denoiser.state_dict().items():
        torch.testing.assert_close(value, ema[name])


def test_a_bundle_that_names_a_class_outside_the_allowlist_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "evil"
    shutil.copytree(bundle, copy)
    config = json.loads((copy / "config.json").read_text())
    config["parts"]["vocoder"]["config"] = {"class_path": "os.system", "init_args": {"command": "true"}}
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(FoleyzooError, match=r"os\.system"):
        FoleyPipeline.from_bundle(copy, device="cpu")


def test_missing_or_foreign_weights_are_named(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(bundle, copy)
    (copy / "sync_encoder.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"sync_encoder\.safetensors: weight file missing"):
        FoleyPipeline.from_bundle(copy, device="cpu")
    shutil.copy(copy / "visual_encoder.safetensors", copy / "sync_encoder.safetensors")
    with pytest.raises(
        ConfigError, match=r"sync_encoder\.safetensors: the weights do not fit part sync_encoder"
    ):
        FoleyPipeline.from_bundle(copy, device="cpu")
    with pytest.raises(ConfigError, match="not a foleyzoo bundle"):
        FoleyPipeline.from_bundle(tmp_path, device="cpu")


def test_export_refuses_to_overwrite_unless_asked(bundle: Path) -> None:
    checkpoint = bundle.parent / "runs/kling-tiny/checkpoints/last.ckpt"
    with pytest.raises(ConfigError, match="already exists"):
        export_bundle(checkpoint, bundle, ModelCard(name="again"))


# ------------------------------------------------------------------ generation


def test_audio_is_exactly_as_long_as_the_video_across_windows(bundle: Path) -> None:
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    for seconds in (0.7, 3.3):  # one window; several (the bundle's window is 1 s)
        video = synth_video(seconds)
        audio = pipeline.generate(video, steps=2)
        assert audio.samples.shape == (2, round(video.duration * 16000)) and audio.sample_rate == 16000
        assert torch.isfinite(audio.samples).all()
    # 4 s of audio is 501 centred mel frames, which the codec encodes as 251 latent frames: generation
    # samples as many (not ceil(4 × 62.5) = 250, whose last token the model never saw completed), so
    # the mel covers every sample and the clip's end is sound, not zeros, whichever last_hop is set
    assert pipeline.codec.latent_frames_for(4.0) == 251 and pipeline.window_frames == 63  # the 1 s window
    assert pipeline.last_hop == "repeat"  # what export records; bundles without the key pad with zeros
    audio = pipeline.generate(synth_video(4.2), duration=4.0, steps=2)
    assert audio.samples.shape == (2, 64000)
    assert bool((audio.samples[:, -128:].abs().amax(dim=-1) > 0).all())
    pipeline.last_hop = "zeros"  # as bundles exported before the setting existed
    padded = pipeline.generate(synth_video(4.2), duration=4.0, steps=2).samples
    assert padded.shape == (2, 64000) and bool((padded[:, -128:].abs().amax(dim=-1) > 0).all())
    with pytest.raises(ConfigError, match="last_hop must be one of repeat, zeros"):
        FoleyPipeline.from_bundle(bundle, device="cpu", last_hop="fade")


def test_encoders_run_once_per_window_whatever_the_steps(bundle: Path) -> None:
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu", window_batch=8)
    calls = {"visual": 0, "sync": 0, "denoiser": 0}

    def counting(name, function):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapped

    pipeline.visual_encoder.encode = counting("visual", pipeline.visual_encoder.encode)
    pipeline.sync_encoder.encode = counting("sync", pipeline.sync_encoder.encode)
    pipeline.denoiser.forward = counting("denoiser", pipeline.denoiser.forward)
    pipeline.generate(synth_video(3.3), steps=6)
    windows = plan_windows(
        pipeline_total(pipeline, 3.3), pipeline.window_frames, pipeline.overlap_frames, pipeline.grid
    )
    groups = len(list(_groups(windows, 8)))  # up to 8 equally long windows share a batch
    assert len(windows) >= 3 and groups >= 2
    assert calls["visual"] == calls["sync"] == groups
    assert calls["denoiser"] == 6 * groups  # guidance branches batched: one forward a step


def pipeline_total(pipeline: FoleyPipeline, seconds: float) -> int:
    return pipeline.codec.latent_frames_for(seconds)


def test_seeds_prompts_and_modes(bundle: Path) -> None:
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():  # one training step leaves adaLN-zero near zero: move off it so conditions matter
        for parameter in pipeline.denoiser.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    video = synth_video(1.0)
    first = pipeline.generate(video, steps=3, seed=1).samples
    assert torch.equal(first, pipeline.generate(video, steps=3, seed=1).samples)
    assert not torch.equal(first, pipeline.generate(video, steps=3, seed=2).samples)
    prompted = pipeline.generate(video, prompt="a bell", steps=3, seed=1).samples
    assert not torch.equal(first, prompted)
    negative = pipeline.generate(
        video, prompt="a bell", negative_prompt="a glass clink", steps=3, seed=1
    ).samples
    assert not torch.equal(prompted, negative)
    text_only = pipeline.generate(prompt="a bell", duration=1.5, steps=3)
    assert text_only.samples.shape == (2, 24000)
    with pytest.raises(ConfigError, match="needs a duration"):
        pipeline.generate(prompt="a bell")


def test_a_missing_or_audio_only_input_is_named(bundle: Path, tmp_path: Path) -> None:
    from foleyzoo.io.media import write_wav

    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    with pytest.raises(FoleyzooError, match=r"nothing\.mp4: no such video file"):
        pipeline.generate(tmp_path / "nothing.mp4")
    sound = tmp_path / "sound.wav"
    write_wav(sound, torch.zeros(1, 8000).numpy(), 16000)
    with pytest.raises(FoleyzooError, match=r"sound\.wav: has no video stream"):
        pipeline.generate(sound)
