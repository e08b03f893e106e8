"""A bundle's data_format says how its encoders' frames are read (MMAudio's way or foleyzoo's), and the
pipeline reads them so, from files and from frames in memory alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from foleyzoo.io.frames import FrameReading, quantise, shape_uint8
from foleyzoo.pipeline import FoleyPipeline, VideoFrames


def test_reading_comes_from_the_data_format_with_foleyzoos_defaults():
    assert FrameReading.of({}, "visual") == FrameReading("latest", "bilinear", "squash")
    mmaudio = {"frame_pick": "next", "frame_resize": "bicubic", "sync_fit": "crop"}
    assert FrameReading.of(mmaudio, "visual") == FrameReading("next", "bicubic", "squash")
    assert FrameReading.of(mmaudio, "sync") == FrameReading("next", "bicubic", "crop")
    with pytest.raises(ValueError, match="pick must be one of latest, next"):
        FrameReading.of({"frame_pick": "first"}, "visual")
    assert FrameReading.of({"frame_count": "floor"}, "sync").count == "floor"


def test_frame_counts_round_the_window_or_floor_the_videos_seconds_as_mmaudio():
    """7.96 s of video in a window of 249 latents (7.968 s): foleyzoo's 64 frames at 8 fps, MMAudio's 63."""
    span, seconds = 249 / 31.25, 7.96
    assert FrameReading().frames(8.0, span, seconds) == 64
    assert FrameReading(count="floor").frames(8.0, span, seconds) == 63 == int(seconds * 8)
    assert FrameReading(count="floor").frames(25.0, 6.016, 6.0) == 150
    assert FrameReading(count="floor").frames(8.0, 0.032, 0.01) == 1  # never none


def test_frames_in_memory_follow_the_next_frame_rule_and_the_8_bit_resize():
    frames = torch.rand(25, 3, 30, 40, generator=torch.Generator().manual_seed(0))
    video = VideoFrames(frames, fps=25.0)
    latest = video.window(25.0, (30, 40), 0.0, 10)
    following = video.window(25.0, (30, 40), 0.0, 10, FrameReading(pick="next"))
    assert torch.equal(latest[6], frames[6])
    assert torch.equal(following[6], frames[7])  # the summed instant 0.24000000000000002 passes frame 6
    assert torch.equal(following[5], frames[5])
    cropped = video.window(8.0, (24, 24), 0.0, 4, FrameReading("next", "bicubic", "crop"))
    expected = shape_uint8(quantise(frames[[0, 4, 7, 10]]), (24, 24), "crop").float() / 255.0
    assert torch.equal(cropped, expected)  # instants 0, 0.125, 0.25, 0.375 → frames 0, 4 (0.16), 7, 10


FOLEYZOO_READING = FrameReading()


class RecordingFrames(VideoFrames):
    """VideoFrames that remember the reading of every window asked for."""

    def window(self, fps, size, start, count, reading=FOLEYZOO_READING):
        self.readings.append((fps, tuple(size), reading))
        return super().window(fps, size, start, count, reading)


def test_the_pipeline_reads_each_encoders_frames_as_its_bundle_says(bundle: Path, tmp_path: Path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    config = json.loads((copy / "config.json").read_text())
    config["data_format"].update(frame_pick="next", frame_resize="bicubic", sync_fit="crop")
    (copy / "config.json").write_text(json.dumps(config))
    pipeline = FoleyPipeline.from_bundle(copy, device="cpu")
    video = RecordingFrames(torch.rand(24, 3, 32, 32), fps=24.0)
    object.__setattr__(video, "readings", [])  # VideoFrames is frozen
    pipeline.generate(video, steps=1, seed=0)
    seen = {(fps, reading) for fps, _, reading in video.readings}
    assert (pipeline.visual_encoder.fps, FrameReading("next", "bicubic", "squash")) in seen
    assert (pipeline.sync_encoder.fps, FrameReading("next", "bicubic", "crop")) in seen
