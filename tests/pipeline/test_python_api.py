"""The Python API as a diffusers user expects it: from_pretrained, .to, __call__, save, progress callbacks."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest
import torch
from tests.data.video_fixtures import make_video

from foleyzoo.errors import ConfigError
from foleyzoo.io.media import mux_audio, probe, read_audio
from foleyzoo.pipeline import FoleyPipeline, GenerationProgress


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("FOLEYZOO_HOME", str(folder))
    return folder


def test_from_pretrained_opens_a_folder_or_a_saved_name(bundle: Path, home: Path, tmp_path: Path) -> None:
    pipeline = FoleyPipeline.from_pretrained(bundle, device="cpu")
    saved = pipeline.save_pretrained(tmp_path / "copy", name="my-foley")
    assert (saved / "config.json").is_file() and (home / "my-foley" / "config.json").is_file()
    again = FoleyPipeline.from_pretrained("my-foley", device="cpu")
    first = pipeline(prompt="a bell", duration=0.5, steps=2, seed=3)
    second = again(prompt="a bell", duration=0.5, steps=2, seed=3)
    assert torch.equal(first.samples, second.samples)
    with pytest.raises(ConfigError, match="no-such-model: neither a bundle folder nor a model in"):
        FoleyPipeline.from_pretrained("no-such-model")


def test_call_is_generate_and_to_changes_the_compute_precision(bundle: Path) -> None:
    pipeline = FoleyPipeline.from_pretrained(bundle).to("cpu")
    assert pipeline.device == torch.device("cpu")
    full = pipeline(prompt="a bell", duration=0.6, steps=2, seed=1)
    assert torch.equal(
        full.samples, pipeline.generate(prompt="a bell", duration=0.6, steps=2, seed=1).samples
    )
    half = pipeline.to(dtype=torch.bfloat16)(prompt="a bell", duration=0.6, steps=2, seed=1)
    assert half.samples.dtype == torch.float32 and torch.isfinite(half.samples).all()
    assert not torch.equal(half.samples, full.samples)  # bf16 arithmetic, not a no-op
    with pytest.raises(ConfigError, match="dtype must be"):
        pipeline.to(dtype=torch.int8)


def test_generated_save_writes_wav_or_the_muxed_video(bundle: Path, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    make_video(video, seconds=1.0)
    audio = FoleyPipeline.from_pretrained(bundle, device="cpu")(video, steps=2)
    wav = audio.save(tmp_path / "out" / "clip.wav")
    assert read_audio(wav, 16000, channels=2).shape == (2, 16000)
    mp4 = audio.save(tmp_path / "out" / "clip.mp4")
    muxed = probe(mp4)
    assert muxed.has_video and muxed.has_audio and abs(muxed.duration - 1.0) < 0.05
    text_only = FoleyPipeline.from_pretrained(bundle, device="cpu")(prompt="x", duration=0.5, steps=1)
    with pytest.raises(ConfigError, match="not generated for a video file"):
        text_only.save(tmp_path / "t.mp4")
    with pytest.raises(ConfigError, match=r"writes \.wav or \.mp4"):
        text_only.save(tmp_path / "t.flac")


def test_the_progress_callback_sees_every_step_of_every_window_group(bundle: Path) -> None:
    pipeline = FoleyPipeline.from_pretrained(bundle, device="cpu", window_batch=1)
    events: list[GenerationProgress] = []
    pipeline.generate(prompt="a bell", duration=2.5, steps=3, progress=events.append)
    sampling = [event for event in events if event.stage == "sampling"]
    groups = sampling[0].groups
    assert groups >= 2  # the bundle's window is 1 s: several windows, one per group here
    assert [(e.group, e.step) for e in sampling] == [(g, s) for g in range(1, groups + 1) for s in range(4)]
    fractions = [event.fraction for event in sampling]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [event.stage for event in events[-2:]] == ["decoding", "done"]
    assert all(later.elapsed >= earlier.elapsed for earlier, later in itertools.pairwise(events))


def test_mjpeg_input_is_muxed_as_h264_and_h264_is_copied(tmp_path: Path) -> None:
    import numpy as np

    mjpeg = tmp_path / "camera.avi"
    with av.open(str(mjpeg), "w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for k in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), k * 10, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    sound = np.zeros((2, 16000), np.float32)
    mux_audio(mjpeg, sound, 16000, tmp_path / "camera.mp4")
    with av.open(str(tmp_path / "camera.mp4")) as muxed:
        assert muxed.streams.video[0].codec_context.name == "h264"  # browsers do not play MJPEG in mp4
    h264 = tmp_path / "phone.mp4"
    make_video(h264, seconds=1.0)
    mux_audio(h264, sound, 16000, tmp_path / "phone-foley.mp4")
    with av.open(str(h264)) as source, av.open(str(tmp_path / "phone-foley.mp4")) as muxed:
        original = [bytes(p) for p in source.demux(source.streams.video[0]) if p.size]
        copied = [bytes(p) for p in muxed.demux(muxed.streams.video[0]) if p.size]
    assert copied == original  # an H.264 stream is copied, not re-encoded
