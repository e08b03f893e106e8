"""Bad input: each case gets a clear error naming the file or key and the problem, and nothing else is lost.

One test (or a few) per row of docs/bad-input.md, in its order: broken media, a sound file given as a
video, training videos without sound (skipped, counted, reported), huge and long videos (streamed),
odd frame rates, WAVs at another rate or holding NaN/Inf, missing captions, YAML and class_path
mistakes, and output names that would leave the output folder.
"""

from __future__ import annotations

import re
import tracemalloc
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from tests.conftest import REPO_ROOT
from tests.data.video_fixtures import make_video
from torch.utils.data import DataLoader

from foleyzoo.cli.generate_cmd import collect_inputs, job_prompt, output_paths
from foleyzoo.cli.main import main, one_line
from foleyzoo.data.clips import ClipFormat, ClipRef, collate_clips, load_clip
from foleyzoo.data.datamodules import VideoDataModule
from foleyzoo.data.datasets import ClipDataset, read_manifest, scan_video_folder
from foleyzoo.data.skipped import SkippedMediaReport
from foleyzoo.errors import ConfigError, MediaError, PluginError
from foleyzoo.io import media
from foleyzoo.training.cli import parse_config

SR = 16000
FMT = ClipFormat(visual_fps=8.0, visual_size=(16, 16), sync_fps=None, sample_rate=SR)
TOY = REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml"


def cli_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``foleyzoo ARGS`` in-process, check it failed with one clean line, and return that line."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert re.match(r"foleyzoo( [a-z]+)?: error: ", err), err
    return err


# --------------------------------------------------------------------------- corrupt, truncated, empty


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.5 s, 30 fps, 32 × 32, with a 440 Hz tone."""
    return make_video(tmp_path_factory.mktemp("bad-input") / "clip.mp4", seconds=1.5)


def _broken(kind: str, clip: Path, folder: Path) -> Path:
    data = clip.read_bytes()
    path = folder / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "header-cut":
        path.write_bytes(data[:40])
    elif kind == "corrupt":
        mangled = bytearray(data)
        for i in range(1500, len(mangled) - 1500, 5):
            mangled[i] ^= 0xA5
        path.write_bytes(bytes(mangled))
    else:  # text with a video's name
        path.write_text("not a video at all\n" * 40)
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("empty", "empty file (0 bytes)"),
        ("truncated", "truncated"),
        ("header-cut", "truncated or corrupt"),
        ("corrupt", "corrupt"),
        ("text", "not a media file"),
    ],
)
def test_broken_media_in_a_dataset_names_the_file_and_the_problem(
    clip: Path, tmp_path: Path, kind: str, problem: str
) -> None:
    path = _broken(kind, clip, tmp_path)
    dataset = ClipDataset([ClipRef(kind, path)], FMT, skip_missing_audio=True)  # broken is not skipped
    with pytest.raises(MediaError) as info:
        dataset[0]
    assert str(path) in str(info.value) and problem in str(info.value)


def test_an_error_in_a_loader_worker_is_still_printed_as_its_own_one_line(clip: Path, tmp_path: Path) -> None:
    """torch re-raises a worker's error with the worker's traceback in its message; the CLI prints the original."""
    path = _broken("truncated", clip, tmp_path)
    loader = DataLoader(ClipDataset([ClipRef("cut", path)], FMT), num_workers=1, collate_fn=list)
    with pytest.raises(MediaError) as info:
        next(iter(loader))
    assert "Original Traceback" in str(info.value)
    line = one_line(info.value)
    assert (
        line.startswith(f"{path}: decoding failed, the data is truncated or corrupt (") and "\n" not in line
    )


# --------------------------------------------------------------------------- a sound file as a video


def test_an_audio_only_file_given_as_a_video_says_it_has_no_video_stream(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    media.write_wav(wav, np.zeros((1, SR // 2), np.float32), SR)
    with pytest.raises(MediaError, match=re.escape(f"{wav}: no video stream in the file")):
        media.read_video_frames(wav, 8)
    with pytest.raises(MediaError, match=r"speech.wav: no video stream"):
        ClipDataset([ClipRef("speech", wav)], FMT, skip_missing_audio=True)[0]


# --------------------------------------------------------------------------- training videos without sound


class AudioMean(LightningModule):
    """The smallest module that trains on clip batches: it records what each batch held."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[list[str], bool]] = []

    def training_step(self, batch: dict, batch_index: int) -> torch.Tensor:
        self.seen.append((list(batch["ids"]), "skipped" in batch))
        return (self.weight - batch["audio"].samples.abs().mean()) ** 2

    def validation_step(self, batch: dict, batch_index: int) -> None:
        self.seen.append((list(batch["ids"]), "skipped" in batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.fixture(scope="module")
def half_silent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three clips with sound and one (``mute``) without an audio stream."""
    folder = tmp_path_factory.mktemp("half-silent")
    for index in range(3):
        make_video(folder / f"clip{index}.mp4", seconds=0.5, size=16)
    media.write_video(folder / "mute.mp4", np.zeros((12, 16, 16, 3), np.uint8), 24)
    return folder


def test_a_training_video_without_audio_is_skipped_counted_and_reported_each_epoch(half_silent: Path) -> None:
    data = VideoDataModule(
        str(half_silent), val=str(half_silent), visual_fps=4.0, visual_size=(8, 8), sync_fps=None,
        crop_duration=None, batch_size=2, num_workers=0,
    )  # fmt: skip
    model = AudioMean()
    trainer = Trainer(
        max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, data)
    (report,) = [c for c in trainer.callbacks if isinstance(c, SkippedMediaReport)]
    mute = str(half_silent / "mute.mp4")
    assert [(epoch, split, count, paths) for epoch, split, count, paths in report.history] == [
        (0, "validate", 1, [mute]),
        (0, "train", 1, [mute]),
        (1, "validate", 1, [mute]),
        (1, "train", 1, [mute]),
    ]
    messages = [str(w.message) for w in caught if "without an audio track" in str(w.message)]
    assert (
        len(messages) == 4 and "epoch 1: skipped 1 training video(s) without an audio track" in messages[-1]
    )
    assert mute in messages[-1]
    assert trainer.callback_metrics["data/skipped_train"] == 1
    assert model.seen and not any(had_skipped for _, had_skipped in model.seen)  # the model never sees it
    assert all("mute" not in ids for ids, _ in model.seen)
    assert sum(len(ids) for ids, _ in model.seen[:2]) == 4  # the epoch still has four items


def test_when_no_training_video_has_sound_the_error_says_so(half_silent: Path, tmp_path: Path) -> None:
    mute = tmp_path / "mute.mp4"
    mute.write_bytes((half_silent / "mute.mp4").read_bytes())
    dataset = ClipDataset([ClipRef("mute", mute)], FMT, skip_missing_audio=True)
    with pytest.raises(
        MediaError, match=r"none of the 1 videos has an audio track \(the first is .*mute.mp4\)"
    ):
        dataset[0]


def test_outside_training_a_video_without_audio_is_an_error_naming_it(half_silent: Path) -> None:
    """``foleyzoo extract`` and evaluation read every clip as it is: nothing is replaced there."""
    mute = half_silent / "mute.mp4"
    with pytest.raises(MediaError, match=re.escape(f"{mute}: no audio stream in the file")):
        ClipDataset([ClipRef("mute", mute)], FMT)[0]


# --------------------------------------------------------------------------- huge and long videos


class CountingPicker:
    """Counts the frames :func:`media.read_video_frames` decodes (each is offered to the picker once)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = media._FramePicker.offer

        def offer(picker: media._FramePicker, frame: av.VideoFrame, time: float) -> bool:
            self.count += 1
            return original(picker, frame, time)

        monkeypatch.setattr(media._FramePicker, "offer", offer)


def _long_video(path: Path, seconds: int, fps: int = 10, keyframe_every: int = 10) -> Path:
    """A 16 × 16 H.264 video whose frame k has brightness k mod 256, a keyframe every ``keyframe_every``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.gop_size = keyframe_every
        stream.options = {"keyint_min": str(keyframe_every), "sc_threshold": "0"}
        for k in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), k % 256, np.uint8), format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_a_window_of_a_long_video_decodes_only_from_the_keyframe_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = _long_video(tmp_path / "long.mp4", seconds=60)
    counter = CountingPicker(monkeypatch)
    frames, times = media.read_video_frames(video, 10, start=50.0, duration=1.0)
    assert frames.shape[0] == 10 and times[0] == pytest.approx(50.0)
    assert frames[0, 0, 8, 8] * 255 == pytest.approx(500 % 256, abs=3)  # the right frame
    assert counter.count <= 10 + 10 + 2  # the window and at most one keyframe interval, not 500 frames


def test_a_huge_frame_is_resized_one_frame_at_a_time(tmp_path: Path) -> None:
    video = tmp_path / "uhd.mp4"
    media.write_video(video, np.full((4, 1080, 1920, 3), 90, np.uint8), 4)
    full_frame = 1080 * 1920 * 3
    tracemalloc.start()
    try:
        frames, _ = media.read_video_frames(video, 4, size=(36, 64))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert frames.shape == (4, 3, 36, 64)
    assert peak < full_frame // 2  # never even one full-size RGB frame in Python's memory


# --------------------------------------------------------------------------- odd frame rates


def test_an_ntsc_frame_rate_maps_onto_the_requested_grid(tmp_path: Path) -> None:
    fps = Fraction(30000, 1001)
    video = tmp_path / "ntsc.mp4"
    levels = (np.arange(60) * 4).astype(np.uint8)
    media.write_video(video, np.broadcast_to(levels[:, None, None, None], (60, 16, 16, 3)).copy(), fps)
    frames, times = media.read_video_frames(video, 8, start=0.5, duration=1.0)
    assert frames.shape[0] == 8
    expected = [4 * int(t * float(fps) + 1e-6) for t in times.tolist()]  # the latest frame at or before t
    assert (frames[:, 0, 8, 8] * 255).round().tolist() == pytest.approx(expected, abs=3)


# --------------------------------------------------------------------------- WAV at another rate, NaN / Inf


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_a_wav_at_another_rate_is_resampled_keeping_pitch_and_length(tmp_path: Path, rate: int) -> None:
    t = np.arange(rate) / rate  # 1 s
    path = tmp_path / f"tone{rate}.wav"
    media.write_wav(path, (0.5 * np.sin(2 * np.pi * 1000 * t))[None], rate)
    audio = media.read_audio(path, SR)[0].numpy()
    assert audio.shape == (SR,)
    spectrum = np.abs(np.fft.rfft(audio[1000:-1000]))
    peak_hz = np.argmax(spectrum) * SR / (len(audio) - 2000)
    assert peak_hz == pytest.approx(1000, abs=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("rate", [SR, 44100])
def test_a_wav_holding_nan_or_inf_is_rejected(tmp_path: Path, bad: float, rate: int) -> None:
    samples = np.zeros((1, rate), np.float32)
    samples[0, rate // 4] = bad
    path = tmp_path / "diverged.wav"
    media.write_wav(path, samples, rate)
    with pytest.raises(
        MediaError,
        match=re.escape(str(path)) + r": audio holds \d+ NaN or Inf samples \(the first at 0\.2\d\d s\)",
    ):
        media.read_audio(path, SR)
    assert media.read_audio(path, SR, start=0.5).isfinite().all()  # a window without them is fine


# --------------------------------------------------------------------------- missing captions


def test_a_clip_without_caption_has_an_empty_one_that_batches_mark_absent(
    half_silent: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("id,caption\nclip0,a bell\nclip1,\n")
    refs = read_manifest(manifest, root=half_silent)
    assert [ref.caption for ref in refs] == ["a bell", ""]
    assert scan_video_folder(half_silent)[0].caption == ""  # no sidecar
    batch = collate_clips([load_clip(ref, FMT) for ref in refs], FMT)
    assert batch["captions"] == ["a bell", ""] and batch["has_caption"].tolist() == [True, False]


def test_generation_without_any_caption_conditions_on_no_text() -> None:
    assert job_prompt(None, "") is None and job_prompt("  ", " ") is None  # the model's text placeholder
    assert job_prompt(None, "a bell") == "a bell" and job_prompt("rain", "a bell") == "rain"


# --------------------------------------------------------------------------- YAML and class_path mistakes


def _recipe(tmp_path: Path, name: str, edit: Callable[[dict], None]) -> Path:
    recipe = yaml.safe_load(TOY.read_text())
    edit(recipe)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_yaml_syntax_error_gives_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  class_path: ToyFlowMatching\n  init_args: {hidden: 64\ndata: x\n")
    err = cli_error(capsys, "fit", "--config", str(path))
    assert f"{path}: YAML syntax error at line 4, column 5" in err


def _set_sampler(name: str) -> Callable[[dict], None]:
    def edit(recipe: dict) -> None:
        recipe["model"]["init_args"]["sampler"]["class_path"] = name

    return edit


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("EulerSamplr", "it is neither a registered plugin nor a loaded class"),
        ("foleyzoo.samplers.ode.EulerSamplr", "the module 'foleyzoo.samplers.ode' has no 'EulerSamplr'"),
        ("eulersampler", "it is neither a registered plugin nor a loaded class"),
    ],
)
def test_an_unknown_class_path_lists_the_close_plugin_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    path = _recipe(tmp_path, "typo.yaml", _set_sampler(name))
    err = cli_error(capsys, "fit", "--config", str(path), "--print_config")
    assert f"{path}: model.init_args.sampler.class_path: unknown class_path {name!r}: {reason}" in err
    assert "Did you mean EulerSampler (foleyzoo.samplers.ode.EulerSampler, foleyzoo.samplers)" in err


def test_an_unknown_data_module_and_a_command_line_typo_are_caught_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(recipe: dict) -> None:
        recipe["data"]["class_path"] = "GaussianMixtureDataModul"

    err = cli_error(capsys, "fit", "--config", str(_recipe(tmp_path, "data.yaml", edit)))
    assert "data.class_path: unknown class_path 'GaussianMixtureDataModul'" in err
    assert "Did you mean GaussianMixtureDataModule (foleyzoo.training.toy.GaussianMixtureDataModule" in err
    err = cli_error(capsys, "fit", "--config", str(TOY), "--model.init_args.sampler=HeunSamplr")
    assert "the command line: --model.init_args.sampler: unknown class_path 'HeunSamplr'" in err
    assert "Did you mean HeunSampler" in err


def test_a_class_path_like_nothing_registered_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = cli_error(capsys, "fit", "--config", str(_recipe(tmp_path, "x.yaml", _set_sampler("Zyxwvut"))))
    assert "unknown class_path 'Zyxwvut'" in err and "No registered plugin has a similar name" in err


@pytest.mark.parametrize("command", ["fit", "summarize"])
def test_a_function_named_as_a_class_is_one_line(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "system.yaml"
    recipe.write_text("model:\n  class_path: os.system\n")
    assert main([command, "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "model.class_path" in err and "'os.system': it is a builtin_function_or_method, not a class" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_plugin_package_is_named(tmp_path: Path) -> None:
    path = _recipe(tmp_path, "missing.yaml", _set_sampler("fz_not_installed.samplers.MagicSampler"))
    with pytest.raises(PluginError, match=r"no installed package provides the module 'fz_not_installed'"):
        parse_config(["fit", "--config", str(path)])


def test_valid_class_paths_are_not_refused() -> None:
    """Short names of Lightning's own classes (TensorBoardLogger, ModelCheckpoint) and torch.optim paths pass."""
    config = parse_config(["fit", "--config", str(TOY), "--model.init_args.sampler=HeunSampler"])
    assert config.fit.model.init_args.sampler.class_path.endswith("HeunSampler")
    assert config.fit.trainer.logger.class_path.endswith("TensorBoardLogger")


# --------------------------------------------------------------------------- output names


@pytest.mark.parametrize(
    "item_id", ["../../escaped", "/tmp/absolute", "sub/../../up", "./here", "C:evil", "a\\b"]
)
def test_an_output_name_that_would_leave_the_output_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item_id: str
) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"id,path\n{item_id},clip.mp4\n")
    out = tmp_path / "out"
    err = cli_error(capsys, "generate", "--model", "x", "--input", str(manifest), "--output", str(out))
    assert f"output name {item_id!r}" in err and "outputs must stay inside the output folder" in err
    assert "clip.mp4" in err
    assert not out.exists()  # refused before anything ran or was written


def test_nested_names_stay_in_subfolders_and_links_out_are_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("id,path\nkitchen/clip3,a.mp4\n")
    (job,) = collect_inputs([str(manifest)])
    out = tmp_path / "out"
    out.mkdir()
    assert output_paths(out, job.stem, job.video) == (out / "kitchen/clip3.wav", out / "kitchen/clip3.mp4")
    (out / "kitchen").symlink_to(tmp_path)
    with pytest.raises(
        ConfigError, match=r"a.mp4: its output .*clip3.wav resolves outside the output folder"
    ):
        output_paths(out, job.stem, job.video)
